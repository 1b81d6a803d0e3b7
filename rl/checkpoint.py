"""The toolgym checkpoint format, and its one reader.

Every stage writes the same format (SFT, GRPO; rl/train/), and everything that loads a policy reads it through
`load_policy` (rollout workers, learners, evaluation, export). A checkpoint is a directory:

    toolgym_checkpoint.json     the manifest (below)
    weights, one of:
      "full":    config.json + model.safetensors                         (merged or fully fine-tuned)
      "adapter": adapter_config.json + adapter_model.safetensors         (LoRA on the manifest's `base`)
    tokenizer.json, tokenizer_config.json, chat_template.jinja         (the tokenizer with its added tokens)

The manifest:

    {"format_version": 1,
     "stage": "sft" | "grpo",          which stage wrote it
     "step": 8,                         optimizer steps of that stage
     "weights": "full" | "adapter",
     "base": "smollm2-135m",            the spec the stage started from (an adapter is applied to it; a spec
                                        is itself an alias, a checkpoint or a hub id, so checkpoints chain)
     "tool_format": {"name": "pythonic", "placement": "system", "tool_style": "compact", ...},
     "added_tokens": ["<|eot_id|>", ...],  tokens added to the base tokenizer (a chat template's)
     "config": {...}}                   the stage's whole config, for model cards and reruns

`load_policy` also takes the packaged aliases, plain HF model directories and hub ids (rl/models.py), so a
user's own checkpoint works as a starting point.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from rl.models import DTYPES, ModelLoadError, peft_lora_config, prepare_tokenizer, resolve, tiny_random

MANIFEST = "toolgym_checkpoint.json"
FORMAT_VERSION = 1


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """The manifest of a toolgym checkpoint directory; None for anything else (an alias, a plain HF model).

    Raises:
        ModelLoadError: the manifest exists but is unreadable or of an unknown format version.
    """
    p = Path(path).expanduser() / MANIFEST
    if not p.is_file():
        return None
    try:
        manifest = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{p}: unreadable checkpoint manifest: {e}") from None
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("weights") not in ("full", "adapter"):
        raise ModelLoadError(f"{p}: unknown checkpoint format (format_version {manifest.get('format_version')!r}, "
                             f"weights {manifest.get('weights')!r}); this toolgym reads version {FORMAT_VERSION}")
    return manifest


def write_manifest(out: Path, *, stage: str, step: int, weights: str, base: str, tool_format: dict[str, Any],
                   tokenizer: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Writes the manifest of a checkpoint whose weights and tokenizer are already in `out`."""
    manifest = {
        "format_version": FORMAT_VERSION,
        "stage": stage,
        "step": int(step),
        "weights": weights,
        "base": base,
        "tool_format": tool_format,
        "added_tokens": sorted(tokenizer.get_added_vocab()),
        "config": config,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def save_checkpoint(model: torch.nn.Module, tokenizer: Any, out: str | Path, *, merge: bool, **manifest: Any) -> Path:
    """Saves an in-process model as a checkpoint (the SFT stage, export). Learners under DeepSpeed save their
    weights through their trainer instead, then call `write_manifest`.

    Args:
        model: A plain model or a PEFT model.
        tokenizer: Its tokenizer (added tokens and chat template are saved with it).
        out: The checkpoint directory.
        merge: Merge a LoRA adapter into full weights; otherwise a PEFT model is saved as an adapter.
        **manifest: `stage`, `step`, `base`, `tool_format`, `config` (see `write_manifest`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    is_peft = hasattr(model, "merge_and_unload")
    if is_peft and merge:
        model = model.merge_and_unload()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    write_manifest(out, weights="adapter" if is_peft and not merge else "full", tokenizer=tokenizer, **manifest)
    return out


def load_policy(
    spec: str,
    *,
    dtype: str = "float32",
    fmt: Any = None,
    lora: Any = None,
    allow_download: bool = False,
) -> tuple[PreTrainedModel, Any]:
    """Loads a policy and its tokenizer: the one reader of checkpoints.

    Args:
        spec: An alias (`smollm2-135m`, `tiny-random`), a toolgym checkpoint directory, a plain HF model
            directory, or a hub id.
        dtype: Weight dtype name.
        fmt: The run's `rl.config.FormatConfig`: the decision format adds its tokens, and `chat_template` swaps the
            tokenizer's template for another family's (rl.models.prepare_tokenizer). None: as saved.
        lora: A `rl.config.LoraConfig`; when given, the model is wrapped with a fresh PEFT LoRA adapter.
        allow_download: Let a hub id download. Off by default: runs must not touch the network.

    Returns:
        `(model, tokenizer)`; an adapter checkpoint comes back merged into its base, and the tokenizer always
        has a pad token.

    Raises:
        ModelLoadError: when the spec cannot be resolved, or names an adapter without a toolgym manifest.
    """
    torch_dtype = DTYPES[dtype]
    if spec == "tiny-random":
        model, tok = tiny_random(torch_dtype)
    else:
        path = resolve(spec, allow_download)
        manifest = read_manifest(path)
        if manifest is not None and manifest["weights"] == "adapter":
            model, tok = _adapter(path, manifest["base"], dtype, allow_download)
        elif (path / "config.json").is_file():
            tok = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
        else:
            raise ModelLoadError(f"{spec}: a LoRA adapter without a {MANIFEST} naming its base model; "
                                 "toolgym checkpoints carry one (rl/checkpoint.py)")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if fmt is not None:
        prepare_tokenizer(model, tok, fmt)
    if lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, peft_lora_config(lora, model))
    return model, tok


def _adapter(path: Path, base_spec: str, dtype: str, allow_download: bool) -> tuple[Any, Any]:
    """An adapter checkpoint: load its base (itself any spec), attach the adapter, merge."""
    from peft import PeftModel

    base, _ = load_policy(base_spec, dtype=dtype, allow_download=allow_download)
    tok = AutoTokenizer.from_pretrained(path)
    if len(tok) != base.get_input_embeddings().num_embeddings:
        base.resize_token_embeddings(len(tok))
    return PeftModel.from_pretrained(base, path).merge_and_unload(), tok

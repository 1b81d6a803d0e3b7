"""Export a trained checkpoint: merge LoRA, save safetensors + tokenizer + generation config, write a model
card with the recipe and eval results, and (optionally) push to the Hugging Face Hub.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rl.checkpoint import load_policy, read_manifest, save_checkpoint

CARD_TEMPLATE = """
# {name}

A function-calling policy trained with [toolgym](https://github.com/toolgym/toolgym): supervised warm-up and
GRPO on simulated, stateful tool APIs, scored with BFCL-exact AST matching and execution-grounded rewards.

- **Base model:** `{base}`
- **Tool-call format:** `{fmt}` (tools placed in the `{placement}` message)
- **Training recipe:** {recipe}

## Evaluation

{results}

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained("{repo}")
model = AutoModelForCausalLM.from_pretrained("{repo}")
```
Prompt it with the tool list rendered by `envs.formats.get_format("{fmt}")` and parse its replies with the same format.
"""


class ExportError(RuntimeError):
    """Export cannot proceed (missing token, bad checkpoint)."""


def export(
    checkpoint: str | Path,
    out: str | Path,
    *,
    results: list[str | Path] = (),
    push_to_hub: str | None = None,
    private: bool = False,
    token: str | None = None,
) -> dict[str, Any]:
    """Merges and saves `checkpoint` into `out`, writes README.md, and pushes when asked.

    Args:
        checkpoint: A toolgym checkpoint (rl/checkpoint.py), or any other spec `load_policy` accepts.
        out: Output directory.
        results: Results JSON files from launch/eval.py to put in the card.
        push_to_hub: `owner/name` to push to.
        private: Create the Hub repo as private.
        token: Hub token; defaults to $HF_TOKEN.

    Raises:
        ExportError: before any work is done, when a push is asked for without a token.
    """
    token = token or os.environ.get("HF_TOKEN")
    if push_to_hub and not token:
        raise ExportError(
            f"--push-to-hub {push_to_hub}: no Hub token. Set HF_TOKEN (a write token from "
            "https://huggingface.co/settings/tokens), or run without --push-to-hub to export locally."
        )
    out = Path(out)
    model, tok = load_policy(str(checkpoint))  # an adapter comes back merged into its base
    # The export is itself a checkpoint (full weights), with the source's manifest carried over.
    src = read_manifest(checkpoint) or {}
    save_checkpoint(model, tok, out, merge=True, stage=src.get("stage", "external"), step=src.get("step", 0),
                    base=src.get("base", str(checkpoint)), tool_format=src.get("tool_format", {}),
                    config=src.get("config", {}))
    card = model_card(Path(checkpoint), [json.loads(Path(p).read_text()) for p in results], repo=push_to_hub or out.name)
    card.save(out / "README.md")
    summary: dict[str, Any] = {"out": str(out), "files": sorted(p.name for p in out.iterdir())}
    if push_to_hub:
        summary["url"] = push(out, push_to_hub, private=private, token=token)
    return summary


def push(folder: Path, repo: str, *, private: bool, token: str) -> str:
    """Creates (if needed) and uploads to the Hub repo; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id=repo, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="model", commit_message="Upload toolgym policy")
    return str(getattr(info, "commit_url", info))


def model_card(checkpoint: Path, results: list[dict[str, Any]], repo: str):
    """A `huggingface_hub.ModelCard` with the base model, training recipe and eval results."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    from rl.eval.evaluate import markdown

    manifest = read_manifest(checkpoint) or {}
    run_cfg = manifest.get("config", {})
    base = manifest.get("base", str(checkpoint))
    fmt = manifest.get("tool_format", {}).get("name", "pythonic")
    placement = manifest.get("tool_format", {}).get("placement", "system")
    eval_results = []
    for r in results:
        for cat, v in r.get("categories", {}).items():
            if "not_run" in v:  # a BFCL category that cannot run here has no score to report
                continue
            metric = "valid" if r["benchmark"] == "bfcl" else "ast_valid"
            eval_results.append(
                EvalResult(
                    task_type="text-generation",
                    dataset_type=r["benchmark"],
                    dataset_name=f"{r['benchmark']}:{cat}",
                    metric_type="accuracy",
                    metric_name=f"strict {metric}",
                    metric_value=round(100 * v[metric], 2),
                )
            )
    data = ModelCardData(
        language="en",
        license="apache-2.0",
        library_name="transformers",
        base_model=base if "/" in base and not base.startswith(("/", ".")) else None,
        tags=["toolgym", "function-calling", "tool-use", "grpo", "trl"],
        model_name=repo,
        eval_results=eval_results or None,
    )
    recipe = _recipe(manifest.get("stage"), run_cfg)
    body = CARD_TEMPLATE.format(
        name=repo,
        base=base,
        fmt=fmt,
        placement=placement,
        recipe=recipe,
        results="\n".join(markdown(r) for r in results) or "No evaluation results were attached.",
        repo=repo,
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def _recipe(stage: str | None, run_cfg: dict[str, Any]) -> str:
    if not run_cfg:
        return "not recorded (not a toolgym checkpoint)"
    m = run_cfg.get("model", {})
    lora = m.get("lora")
    adapt = f"LoRA r={lora['r']}" if lora else "full fine-tuning"
    if stage == "sft":
        s = run_cfg.get("sft", {})
        return f"supervised fine-tuning ({s.get('epochs')} epochs, lr {s.get('learning_rate')}); {adapt}"
    a, r = run_cfg.get("algorithm", {}), run_cfg.get("rewards", {})
    parts = [
        f"GRPO (loss `{a.get('loss_type')}`, beta {a.get('beta')}, {a.get('num_generations')} generations x "
        f"{a.get('prompts_per_step')} tasks per step, lr {a.get('learning_rate')})",
        adapt,
        "rewards " + ", ".join(f"{k}x{v}" for k, v in (r.get("components") or {}).items()),
    ]
    return "; ".join(parts)

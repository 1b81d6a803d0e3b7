"""Chat-template families: how each family's template takes a tool-use conversation, declared once per family.

A family is found by comparing the tokenizer's chat template with the templates TRL ships
(`trl/chat_templates`, the identity comparison TRL itself uses), or named in `format.template_family`. A
template that matches none is taken as `generic` (a system role, a `tool` role, calls written as text).

What a family declares:
- `stops`: the texts that end a generated message (end of turn, or the hand-over to a tool). The rollout engine
  stops on them (they are single tokens in the family's own tokenizer, and rl.models.prepare_tokenizer adds
  them to a tokenizer that lacks them), and the renderer uses them to find where the template closes an
  assistant message.
- `system_role`: False when the template has no system role; the system text then opens the first user message.
- `tool_role`: the role tool results take ("tool"), or None when the template has none: results become user
  messages.
- `alternate`: the template demands strict user/assistant alternation: consecutive messages of one role merge.
- `structured_calls`: the template renders an assistant message's `tool_calls` itself (Llama 3.1, gpt-oss,
  Gemma 4, ...), so the renderer hands it the parsed calls rather than text. `tool_needs_calls`: a tool message
  must follow such calls (gpt-oss); with calls written as text (json, pythonic) results become user messages.
- `native`: the template accepts `tools=` and the family's calls can be parsed (TRL's response schema, or the
  Hermes grammar), so `format.name: native` works.
- `control_tokens`: the special tokens the template uses (a test swaps the template into another tokenizer and
  adds them, as the family's own tokenizer has them).
- `rerenders`: what the template rewrites in earlier turns, when it does; the learner scores the tokens exactly
  as sampled, so such a rewrite never reaches training (documented per family, checked by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TemplateFamily:
    name: str
    templates: tuple[str, ...] = ()
    stops: tuple[str, ...] = ("<|im_end|>",)
    system_role: bool = True
    tool_role: str | None = "tool"
    alternate: bool = False
    structured_calls: bool = False
    tool_needs_calls: bool = False
    native: bool = False
    control_tokens: tuple[str, ...] = ()
    rerenders: str = ""


_CHATML = ("<|im_start|>", "<|im_end|>")
_LFM2 = (*_CHATML, "<|tool_call_start|>", "<|tool_call_end|>", "<|tool_list_start|>", "<|tool_list_end|>",
         "<|startoftext|>")
_LLAMA = ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<|python_tag|>")

FAMILIES: tuple[TemplateFamily, ...] = (
    TemplateFamily("qwen", ("qwen2_5", "qwen3", "qwen3_instruct_2507", "qwen3_5_nothink", "qwen3_5_think", "qwen3_6",
                            "qwen3_8", "qwen3_vl"),
                   structured_calls=True, native=True, control_tokens=(*_CHATML, "<think>", "</think>", "<tool_call>",
                                                                       "</tool_call>", "<tool_response>", "</tool_response>"),
                   rerenders="reasoning (<think>) of earlier assistant turns is dropped"),
    TemplateFamily("llama3", ("llama3",), stops=("<|eot_id|>",), control_tokens=_LLAMA),
    TemplateFamily("llama3_1", ("llama3_1", "llama3_2"), stops=("<|eot_id|>", "<|eom_id|>"), tool_role="ipython",
                   structured_calls=True, native=True, control_tokens=_LLAMA),
    TemplateFamily("gemma", ("gemma",), stops=("<end_of_turn>",), system_role=False, tool_role=None, alternate=True,
                   control_tokens=("<start_of_turn>", "<end_of_turn>")),
    TemplateFamily("gemma3", ("gemma3",), stops=("<end_of_turn>",), tool_role=None, alternate=True,
                   control_tokens=("<start_of_turn>", "<end_of_turn>")),
    TemplateFamily("gemma4", ("gemma4", "gemma4_v2", "gemma4_v3", "gemma4_v4", "gemma4_v5"),
                   stops=("<turn|>", "<|tool_response>"), structured_calls=True, tool_needs_calls=True, native=True,
                   control_tokens=("<|turn>", "<turn|>", "<|tool_call>", "<tool_call|>", "<|tool_response>",
                                   "<tool_response|>", '<|"|>', "<|channel>", "<channel|>", "<|tool>", "<tool|>")),
    TemplateFamily("gptoss", ("gptoss",), stops=("<|return|>", "<|call|>", "<|end|>"), structured_calls=True,
                   tool_needs_calls=True, native=True,
                   control_tokens=("<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|return|>", "<|call|>",
                                   "<|constrain|>"),
                   rerenders="a finished reply's <|return|> is rendered <|end|> in later turns"),
    TemplateFamily("glm4moe", ("glm4moe",), stops=("<|user|>", "<|observation|>"), structured_calls=True, native=True,
                   control_tokens=("[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>",
                                   "<think>", "</think>", "<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>",
                                   "<arg_value>", "</arg_value>", "<tool_response>", "</tool_response>")),
    TemplateFamily("nemotron_3", ("nemotron_3_nano", "nemotron_3_super", "nemotron_3_ultra", "nemotron_3_5_lightning"),
                   structured_calls=True, native=True,
                   control_tokens=(*_CHATML, "<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>",
                                   "</tool_response>"),
                   rerenders="reasoning (<think>) of earlier assistant turns is dropped"),
    TemplateFamily("lfm2", ("lfm2_v2", "lfm2_2_5", "lfm2_2_5_v2", "lfm2_2_5_vl"), structured_calls=True,
                   native=True, control_tokens=_LFM2),
    # LFM2's first template renders tools and calls, but TRL knows no response parser for it (its calls cannot
    # be read back): json and pythonic only.
    TemplateFamily("lfm2_v1", ("lfm2",), control_tokens=_LFM2),
    TemplateFamily("muse_glimmer", ("muse_glimmer",), stops=("<|eot|>",),  # no response parser in TRL: text calls only
                   control_tokens=("<|start|>", "<|message|>", "<|eot|>")),
    TemplateFamily("phi3", ("phi3", "phi3_5"), stops=("<|end|>",),
                   control_tokens=("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")),
    TemplateFamily("cohere", ("cohere", "cohere2"), stops=("<|END_OF_TURN_TOKEN|>",), tool_role=None, alternate=True,
                   control_tokens=("<BOS_TOKEN>", "<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|USER_TOKEN|>",
                                   "<|CHATBOT_TOKEN|>", "<|SYSTEM_TOKEN|>")),
    TemplateFamily("deepseek", ("deepseekv3", "deepseek_r1_distill"), stops=("<｜end▁of▁sentence｜>",), tool_role=None,
                   control_tokens=("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
                                   "<think>", "</think>"),
                   rerenders="reasoning (<think>) of earlier assistant turns is dropped"),
)
GENERIC = TemplateFamily("generic")
# Templates for images (no tool use) or diffusion decoding are not rollout targets.
NOT_FOR_ROLLOUTS = ("idefics3", "llava_next", "smolvlm", "qwen2_5_vl", "diffusion_gemma")


def trl_templates() -> dict[str, str]:
    """TRL's chat templates by name (not the `_training` variants)."""
    import trl

    folder = Path(trl.__file__).parent / "chat_templates"
    return {p.stem: p.read_text() for p in sorted(folder.glob("*.jinja")) if not p.stem.endswith("_training")}


@cache
def _by_template_text() -> dict[str, TemplateFamily]:
    texts = trl_templates()
    return {texts[t]: fam for fam in FAMILIES for t in fam.templates if t in texts}


def family_by_name(name: str) -> TemplateFamily:
    """The family named `name` (a family name or a TRL template name)."""
    for fam in (*FAMILIES, GENERIC):
        if name == fam.name or name in fam.templates:
            return fam
    raise ValueError(f"unknown template family {name!r}; known: {[f.name for f in FAMILIES]} (or 'generic')")


def family_of(tokenizer: Any, declared: str = "auto") -> TemplateFamily:
    """The family of the tokenizer's chat template: `declared`, or found by identity with TRL's templates."""
    if declared != "auto":
        return family_by_name(declared)
    return _by_template_text().get(getattr(tokenizer, "chat_template", None) or "", GENERIC)


def family_table() -> str:
    """The README's table: one row per family, with the formats it serves and the adaptations applied."""
    rows = ["| family | TRL templates | formats | adaptations |", "|---|---|---|---|"]
    for f in FAMILIES:
        formats = ["native"] if f.native else []
        formats += ["json", "pythonic", "decision"]
        notes = []
        if not f.system_role:
            notes.append("system text opens the first user message")
        if f.tool_role is None:
            notes.append("tool results as user messages")
        elif f.tool_role != "tool":
            notes.append(f"tool results in the `{f.tool_role}` role")
        if f.alternate:
            notes.append("strict alternation: consecutive messages of a role merged")
        if f.structured_calls:
            notes.append("native calls passed as structured `tool_calls`")
        if f.tool_needs_calls:
            notes.append("with text calls (json, pythonic), tool results as user messages")
        if f.rerenders:
            notes.append(f"re-renders history: {f.rerenders}")
        rows.append(f"| {f.name} | {', '.join(f.templates)} | {', '.join(formats)} | {'; '.join(notes) or '-'} |")
    return "\n".join(rows)

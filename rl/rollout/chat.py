"""Chat rendering at the token level, for multi-turn rollouts that stay token-in, token-out.

The policy's own tokens are never re-tokenised. Everything the environment adds between two assistant
messages (the template's closing of the assistant turn, tool results, the next user turn, the next assistant
header) is rendered as *text* by the tokenizer's chat template and tokenised on its own:

    stand-in  = [system, user] (fixed text)          P = render(stand-in, generation prompt)
    B = render(stand-in + [assistant] + new messages, generation prompt)
    rest = B[len(P):] = the assistant message as the template renders it, its closing, the new messages, the
           next assistant header
    appended  = rest after the generated text (or, when the template renders the message differently from what
                was sampled, after the template's first end-of-message marker in `rest`)

The stand-in history makes this independent of the real history, so templates that rewrite earlier turns
(Qwen3 drops the reasoning of earlier replies, gpt-oss renders a finished reply's <|return|> as <|end|>) work:
the policy sees, and the learner scores, the tokens exactly as sampled, and the environment's tokens exactly as
the template renders them at that point. Per-family adaptations (no system role, no tool role, strict
alternation, calls the template renders itself) are declared in rl/rollout/templates.py.
"""

from __future__ import annotations

import json
from typing import Any

from envs.formats import Format, get_format
from envs.open_world import offered_tools
from envs.types import Task, ToolCall
from rl.rollout.templates import TemplateFamily, family_of

STAND_IN = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello."}]


class ChatRenderer:
    """Renders tasks into prompt ids and environment turns into continuation ids.

    Args:
        tokenizer: A transformers tokenizer with a chat template.
        fmt: The tool-call format (renders tools, results and answers).
        placement: Where the tool list goes ("system" or "tools_role").
        family: The template family (rl/rollout/templates.py); "auto" finds it from the template.
    """

    def __init__(self, tokenizer: Any, fmt: Format, placement: str = "system", family: str = "auto") -> None:
        self.tokenizer = tokenizer
        self.fmt = fmt
        self.placement = placement
        self.family: TemplateFamily = family_of(tokenizer, family)
        eot = end_of_turn_ids(tokenizer, self.family)
        self.end_of_turn_id = eot[0] if eot else tokenizer.eos_token_id  # what ends an assistant message
        self.stop_token_ids = sorted({tokenizer.eos_token_id, *eot})
        self._stop_texts = [tokenizer.decode([i]) for i in self.stop_token_ids]
        self._structured = fmt.name == "native" and self.family.structured_calls
        self._variants: dict[str, ChatRenderer] = {}  # for_task's renderers, by prompt format

    @classmethod
    def for_format(cls, tokenizer: Any, fmt: Any) -> ChatRenderer:
        """The renderer of a run's `rl.config.FormatConfig` (format, placement, template family)."""
        return cls(tokenizer, make_format(fmt, tokenizer), fmt.placement, fmt.template_family)

    def initial_messages(self, task: Task) -> list[dict[str, Any]]:
        """Tool messages (from the format) followed by the first user turn."""
        return self.initial_messages_of(offered_tools(task), task.turns[0])

    def initial_messages_of(self, tools: list[dict[str, Any]], user_turn: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.fmt.prompt_messages(tools, user_turn, self.placement)

    def for_task(self, task: Task) -> ChatRenderer:
        """This renderer, or for a task that names its own prompt format (BFCL's format-sensitivity variants,
        `metadata["bfcl_prompt_format"]`, envs/bfcl_formats.py) a copy of it with that format."""
        spec = task.metadata.get("bfcl_prompt_format")
        if spec is None:
            return self
        if spec not in self._variants:
            from envs.bfcl_formats import BFCLPromptFormat

            self._variants[spec] = ChatRenderer(self.tokenizer, BFCLPromptFormat(spec), self.placement, self.family.name)
        return self._variants[spec]

    @property
    def structured(self) -> bool:
        """Calls go to the template as structured `tool_calls` (the native format of a family that renders them)."""
        return self._structured

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            self.adapt(messages), tokenize=False, add_generation_prompt=generation_prompt, **self.fmt.template_kwargs(tools)
        )

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt_ids(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[int]:
        return self.encode(self.render(messages, tools, generation_prompt=True))

    def decode_assistant(self, ids: list[int], stopped: bool) -> str:
        """The assistant message text of generated ids (the stop token is not part of the content)."""
        return self.tokenizer.decode(ids[:-1] if stopped else ids, skip_special_tokens=False)

    def assistant_message(self, text: str, calls: list[ToolCall]) -> dict[str, Any]:
        """The assistant message as the template takes it: the parsed calls as structured `tool_calls` when the
        template renders calls itself (native format), else the text as written."""
        if self._structured and calls:
            content = self.fmt.parse(text).content
            return {"role": "assistant", "content": content,
                    "tool_calls": [{"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                   for c in calls]}
        return {"role": "assistant", "content": text}

    def assistant_body(self, assistant: dict[str, Any], new_messages: list[dict[str, Any]],
                       tools: list[dict[str, Any]]) -> str:
        """What a model of this family writes for `assistant` when `new_messages` follow (a tool result, the next
        user turn, or nothing): the template's rendering of the message, up to and including the end marker it
        closes it with there (tests and SFT targets use it to write as the family writes)."""
        rest, prompt_tail = self._after_prompt(assistant, new_messages, tools, generation_prompt=False)
        end = self._first_stop(rest)
        body = rest if end is None else rest[: end[0] + len(end[1])]
        if prompt_tail.count("<think>") > prompt_tail.count("</think>") and "</think>" not in body:
            body = "</think>\n\n" + body  # the generation prompt opened a reasoning block: the model closes it
        return body

    def continuation_ids(
        self,
        assistant: dict[str, Any],
        generated_text: str,
        new_messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        generation_prompt: bool = True,
    ) -> list[int]:
        """Token ids the environment appends after a generated assistant message (see the module doc).

        Args:
            assistant: The assistant message (`assistant_message`).
            generated_text: Exactly what the generated ids decode to (content plus stop token, if any).
            new_messages: Messages that follow (tool results, next user turn).
            tools: Tools, for templates that render them.
            generation_prompt: Append the next assistant header.
        """
        rest, prompt_tail = self._after_prompt(assistant, new_messages, tools, generation_prompt)
        if not prompt_tail and rest.startswith(generated_text):
            return self.encode(rest[len(generated_text) :])
        # The template renders the message otherwise than it was sampled (calls it renders itself, a reasoning
        # block it drops, another end marker) or after another generation prompt: the sampled tokens stand, and
        # the environment's text starts after the template's closing marker.
        end = self._first_stop(rest)
        if end is None:
            return self.encode(rest)
        at, stop = end
        closed = any(generated_text.endswith(s) for s in (*self.family.stops, *self._stop_texts) if s)
        return self.encode(rest[at + len(stop) :] if closed else rest[at:])

    def _after_prompt(self, assistant: dict[str, Any], new_messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                      generation_prompt: bool) -> tuple[str, str]:
        """The rendering of `assistant` + `new_messages` after the stand-in history, from where a generated message
        starts; and the end of the generation prompt that the history rendering does not show ("" when it extends
        the generation prompt; else the rendering is taken from where the two part, as when the template opens a
        reasoning block in the prompt and drops it from the history)."""
        head = self.render(STAND_IN, tools, generation_prompt=True)
        full = self.render(STAND_IN + [assistant] + new_messages, tools, generation_prompt=generation_prompt)
        if full.startswith(head):
            return full[len(head) :], ""
        start = len(self.render(STAND_IN, tools, generation_prompt=False))
        while start < len(head) and start < len(full) and head[start] == full[start]:
            start += 1
        if full.rfind("<", 0, start) > full.rfind(">", 0, start):  # never part inside a tag (<think> vs <tool_call>)
            start = full.rfind("<", 0, start)
        return full[start:], head[start:]

    def _first_stop(self, rest: str) -> tuple[int, str] | None:
        found = [(rest.find(s), s) for s in (*self.family.stops, *self._stop_texts) if s and s in rest]
        return min(found) if found else None

    # ---- the family's adaptations -------------------------------------------------------------------------
    def adapt(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages as the family's template takes them (module doc of rl/rollout/templates.py)."""
        fam = self.family
        out: list[dict[str, Any]] = []
        system: list[str] = []
        calls_before = False
        for m in messages:
            role = m["role"]
            if role == "system" and not fam.system_role:
                system.append(m["content"])
                continue
            if role == "tools":  # the dedicated tool-list message of placement: tools_role
                m = {"role": "system" if fam.system_role else "user", "content": m["content"]} if fam.alternate else m
            if role == "tool":
                if fam.tool_role is None or (fam.tool_needs_calls and not calls_before):
                    m = {"role": "user", "content": _tool_text(m)}
                elif fam.tool_role != "tool":
                    m = {**m, "role": fam.tool_role}
            if role == "assistant":
                calls_before = bool(m.get("tool_calls"))
            elif role != "tool":
                calls_before = False
            if system and m["role"] == "user":
                m = {**m, "content": "\n\n".join([*system, m["content"]])}
                system = []
            if fam.alternate and out and out[-1]["role"] == m["role"] and "tool_calls" not in m:
                out[-1] = {**out[-1], "content": out[-1]["content"] + "\n\n" + m["content"]}
                continue
            out.append(dict(m))
        return out


def make_format(fmt: Any, tokenizer: Any) -> Format:
    """The format object of a `rl.config.FormatConfig`. For `native`, the tokenizer first gets TRL's response
    parser for its template family (`trl.chat_template_utils.add_response_schema`) when it has none.

    Raises:
        ValueError: naming the template family and what it lacks, when `native` cannot serve it.
    """
    if fmt.name == "native" and getattr(tokenizer, "response_template", None) is None:
        from trl.chat_template_utils import add_response_schema

        try:
            add_response_schema(tokenizer)
        except ValueError:
            pass  # TRL knows no parser for this template: NativeFormat falls back to Hermes, or says why not
    try:
        return get_format(fmt.name, tool_style=fmt.tool_style, decision_inner=fmt.decision_inner, tokenizer=tokenizer)
    except ValueError as e:
        family = family_of(tokenizer, fmt.template_family)
        raise ValueError(f"template family {family.name!r}: {e}") from None


def _tool_text(message: dict[str, Any]) -> str:
    return f"Tool result: {message['content']}" if isinstance(message.get("content"), str) else json.dumps(message)


def end_of_turn_ids(tokenizer: Any, family: TemplateFamily | None = None) -> list[int]:
    """Ids of the end-of-message markers that the vocab has: the family's, else the common ones."""
    vocab = tokenizer.get_vocab()
    markers = family.stops if family is not None and family.name != "generic" else (
        "<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")
    return [vocab[t] for t in markers if t in vocab]

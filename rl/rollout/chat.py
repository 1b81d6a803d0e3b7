"""Chat rendering at the token level, for multi-turn rollouts that stay token-in, token-out.

The policy's own tokens are never re-tokenised. Everything the environment adds between two assistant
messages (the template's closing of the assistant turn, tool results, the next user turn, the next
assistant header) is rendered as *text* by the tokenizer's chat template and tokenised on its own, as the
difference between two renderings of the conversation. So the token stream a policy sees during rollout is
exactly the one the learner scores, whatever the template.
"""

from __future__ import annotations

from typing import Any

from envs.formats import Format
from envs.types import Task


class TemplateMismatch(RuntimeError):
    """The chat template does not render conversations as prefixes of each other."""


class ChatRenderer:
    """Renders tasks into prompt ids and environment turns into continuation ids.

    Args:
        tokenizer: A transformers tokenizer with a chat template.
        fmt: The tool-call format (renders tools, results and answers).
        placement: Where the tool list goes ("system" or "tools_role").
    """

    def __init__(self, tokenizer: Any, fmt: Format, placement: str = "system") -> None:
        self.tokenizer = tokenizer
        self.fmt = fmt
        self.placement = placement
        eot = end_of_turn_ids(tokenizer)
        self.end_of_turn_id = eot[0] if eot else tokenizer.eos_token_id  # what ends an assistant message
        self.stop_token_ids = sorted({tokenizer.eos_token_id, *eot})
        self._stop_texts = [tokenizer.decode([i]) for i in self.stop_token_ids]

    def initial_messages(self, task: Task) -> list[dict[str, Any]]:
        """Tool messages (from the format) followed by the first user turn."""
        return self.fmt.render_tools(task.tools, self.placement) + [dict(m) for m in task.turns[0]]

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation_prompt, **self.fmt.template_kwargs(tools)
        )

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt_ids(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[int]:
        return self.encode(self.render(messages, tools, generation_prompt=True))

    def decode_assistant(self, ids: list[int], stopped: bool) -> str:
        """The assistant message text of generated ids (the stop token is not part of the content)."""
        return self.tokenizer.decode(ids[:-1] if stopped else ids, skip_special_tokens=False)

    def continuation_ids(
        self,
        history: list[dict[str, Any]],
        assistant_text: str,
        generated_text: str,
        new_messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        generation_prompt: bool = True,
    ) -> list[int]:
        """Token ids the environment appends after a generated assistant message.

        Args:
            history: Messages before the assistant message.
            assistant_text: The assistant message content.
            generated_text: Exactly what the generated ids decode to (content plus stop token, if any).
            new_messages: Messages that follow (tool results, next user turn).
            tools: Tools, for templates that render them.
            generation_prompt: Append the next assistant header.

        Raises:
            TemplateMismatch: when the template is not prefix-stable (it rewrites earlier turns).
        """
        assistant = {"role": "assistant", "content": assistant_text}
        base = self.render(history, tools, generation_prompt=True)
        with_assistant = self.render(history + [assistant], tools, generation_prompt=False)
        full = self.render(history + [assistant] + new_messages, tools, generation_prompt=generation_prompt)
        if not with_assistant.startswith(base) or not full.startswith(with_assistant):
            raise TemplateMismatch("the chat template re-renders earlier turns; multi-turn token rollouts need a prefix-stable template")
        rendered_assistant = with_assistant[len(base) :]
        if not rendered_assistant.startswith(generated_text):
            # The template changed the assistant text (e.g. stripped whitespace). The policy's tokens stand as
            # generated; close the turn with the template's own ending.
            leftover = self._closing(rendered_assistant)
        else:
            leftover = rendered_assistant[len(generated_text) :]
        return self.encode(leftover + full[len(with_assistant) :])

    def _closing(self, rendered_assistant: str) -> str:
        for stop in self._stop_texts:
            idx = rendered_assistant.rfind(stop)
            if idx >= 0:
                return rendered_assistant[idx + len(stop) :]
        return ""


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """Ids of the template's end-of-turn markers (<|im_end|>, <|eot_id|>, <|end|>) that the vocab has."""
    vocab = tokenizer.get_vocab()
    return [vocab[t] for t in ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>") if t in vocab]

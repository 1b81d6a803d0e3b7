"""Rollout engines: token ids in, sampled token ids and their logprobs out.

An engine knows nothing about tools or chat; the episode runner (rl/episodes.py) owns that. The `hf` engine
is a batched decode loop over a transformers model with a KV cache. We write the loop instead of calling
`model.generate` because each sequence must draw its samples from its *own* RNG: an episode's tokens then
depend only on its seed (step, task id, sample index), never on which other episodes share its batch or
worker. `generate` draws from one global RNG for the whole batch.

A `vllm` engine (GPU) plugs in behind the same two methods: `generate` and `load_state_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass
class Generation:
    """One sequence's continuation.

    Attributes:
        ids: Sampled token ids (including the stop token, when one was produced).
        logprobs: Log-probability of each sampled token under the sampling distribution.
        stopped: True when a stop token ended the sequence (False: hit max_new_tokens).
    """

    ids: list[int]
    logprobs: list[float]
    stopped: bool


class Engine(Protocol):
    def generate(
        self,
        contexts: list[list[int]],
        *,
        max_new_tokens: list[int],
        generators: list[torch.Generator | None],
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> list[Generation]: ...

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None: ...


class HFEngine:
    """Batched sampling from a transformers causal LM on CPU or GPU.

    Args:
        model: The policy (a plain model or a PEFT model).
        pad_token_id: Used to left-pad contexts.
        stop_token_ids: Any of these ends a sequence (the chat template's end-of-turn, EOS).
    """

    def __init__(self, model: torch.nn.Module, pad_token_id: int, stop_token_ids: list[int]) -> None:
        self.model = model.eval()
        self.pad_token_id = pad_token_id
        self.stop_token_ids = sorted(set(stop_token_ids))
        self.device = next(model.parameters()).device

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state, strict=False)

    @torch.inference_mode()
    def generate(
        self,
        contexts: list[list[int]],
        *,
        max_new_tokens: list[int],
        generators: list[torch.Generator | None],
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> list[Generation]:
        """Continues every context until a stop token or its own `max_new_tokens`.

        Args:
            contexts: Token ids per sequence (no padding).
            max_new_tokens: Per-sequence budget (>= 1).
            generators: Per-sequence RNG; None means greedy decoding for that sequence.
            temperature: Softmax temperature for sampled sequences.
            top_p: Nucleus sampling threshold.
        """
        B = len(contexts)
        if B == 0:
            return []
        dev = self.device
        lengths = torch.tensor([len(c) for c in contexts], device=dev)
        L = int(lengths.max())
        input_ids = torch.full((B, L), self.pad_token_id, dtype=torch.long, device=dev)  # [B, L] left-padded
        for i, c in enumerate(contexts):
            input_ids[i, L - len(c) :] = torch.tensor(c, dtype=torch.long, device=dev)
        attn = (torch.arange(L, device=dev)[None, :] >= (L - lengths)[:, None]).long()  # [B, L]
        positions = (attn.cumsum(-1) - 1).clamp(min=0)  # [B, L]
        budget = torch.tensor(max_new_tokens, device=dev)  # [B]
        stop_ids = torch.tensor(self.stop_token_ids, device=dev)

        out_ids: list[list[int]] = [[] for _ in range(B)]
        out_lp: list[list[float]] = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool, device=dev)  # [B]
        stopped = torch.zeros(B, dtype=torch.bool, device=dev)  # [B]

        out = self.model(input_ids=input_ids, attention_mask=attn, position_ids=positions, use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1, :].float()  # [B, V]
        next_pos = positions[:, -1:] + 1  # [B, 1]
        for t in range(int(budget.max())):
            # ---- sampling: per-sequence RNG, so a sequence's draws never depend on its batch mates ----
            tokens, logps = self._sample(logits, generators, temperature, top_p)  # [B], [B]
            for i in torch.nonzero(~done).flatten().tolist():
                out_ids[i].append(int(tokens[i]))
                out_lp[i].append(float(logps[i]))
            hit_stop = torch.isin(tokens, stop_ids) & ~done
            stopped |= hit_stop
            done |= hit_stop | (budget <= t + 1)
            if bool(done.all()):
                break
            tokens = torch.where(done, torch.full_like(tokens, self.pad_token_id), tokens)
            attn = torch.cat([attn, (~done).long()[:, None]], dim=1)  # finished rows attend to nothing new
            out = self.model(
                input_ids=tokens[:, None], attention_mask=attn, position_ids=next_pos, past_key_values=past, use_cache=True
            )
            past, logits = out.past_key_values, out.logits[:, -1, :].float()
            next_pos = next_pos + 1
        return [Generation(out_ids[i], out_lp[i], bool(stopped[i])) for i in range(B)]

    @staticmethod
    def _sample(
        logits: torch.Tensor, generators: list[torch.Generator | None], temperature: float, top_p: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logprobs = torch.log_softmax(logits / temperature, dim=-1)  # [B, V]
        tokens = logits.argmax(dim=-1)  # [B] greedy by default
        greedy_lp = torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
        out_lp = greedy_lp.clone()
        for i, g in enumerate(generators):
            if g is None:
                continue
            lp = logprobs[i]
            if top_p < 1.0:
                sorted_lp, order = lp.sort(descending=True)
                keep = sorted_lp.exp().cumsum(0) - sorted_lp.exp() < top_p  # always keeps the top token
                lp = torch.full_like(lp, float("-inf")).scatter(0, order[keep], sorted_lp[keep])
                lp = lp - torch.logsumexp(lp, 0)
            # Gumbel-max: argmax(logp + Gumbel noise) is an exact sample from softmax(logp).
            u = torch.rand(lp.shape, generator=g).to(lp.device).clamp_(1e-20, 1.0)  # CPU RNG: same draws on any device
            tok = int(torch.argmax(lp - torch.log(-torch.log(u))))
            tokens[i] = tok
            out_lp[i] = lp[tok]
        return tokens, out_lp

"""Rollout engines: token ids in, sampled token ids and their logprobs out.

An engine knows nothing about tools or chat; the episode runner (rl/episodes.py) owns that. The `hf` engine
is a batched decode loop over a transformers model with a KV cache. We write the loop instead of calling
`model.generate` because each sequence must draw its samples from its *own* RNG: an episode's tokens then
depend only on its seed (step, task id, sample index), never on which other episodes share its batch or
worker. `generate` draws from one global RNG for the whole batch.

One `HFEngine.generate` call has two phases:

1. Prefill. Only the tokens whose keys/values are not known yet are run through the model:
   - KV reuse across rounds. A multi-turn episode calls `generate` once per assistant message, and each
     call's context is the previous one + the generated tokens + the environment's tokens. With `cache_keys`,
     the engine keeps each sequence's keys/values after a call, and the next call prefills only what follows
     the longest prefix that matches the cache token for token (the tool results, the next user turn...).
   - Shared prefixes. Rows without a cache that start with the same tokens (the G samples of a GRPO group,
     or a common system prompt) get that prefix prefilled once.
   - Chunks. Rows are sorted by how many tokens they need and run in chunks of similar length, so little
     compute goes to padding (padding all rows to the longest cost ~70% extra prefill on episode batches).
   Within a chunk, rows may have cached prefixes of different lengths: the caches are left-padded to a common
   width, the new tokens follow (also left-padded), so a row may have a hole (attention mask 0) between its
   cache and its new tokens; explicit position ids continue from each row's true length:

       columns:      |<------- P (cache) ------->|<----- S (new) ----->|
       row a (reuse):   0  0  k  k  k  k  k  k  k   0  0  0  0  n  n  n
       row b (fresh):   0  0  0  0  0  0  0  0  0   n  n  n  n  n  n  n
       positions a:                                             7  8  9

2. Decode. Every row's keys/values are left-padded into one cache with room for the new tokens (written in
   place: no re-concatenation of the whole cache every step), and the batch decodes one token per step.
   Rows that finish early leave the batch, with their cache rows, once enough of them have finished.

The `Engine` protocol below is exactly what the rollout side calls: the episode runner calls `generate` and
`release`, the rollout worker calls `set_weights`. Another engine (vLLM on GPUs, a CPU inference engine) is
written against it alone.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

log = logging.getLogger(__name__)

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), each [H_kv, T, D] (one sequence)


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


@runtime_checkable
class Engine(Protocol):
    """Token ids in, sampled token ids and their logprobs out (see `HFEngine` for the reference semantics)."""

    def generate(
        self,
        contexts: list[list[int]],
        *,
        max_new_tokens: list[int],
        generators: list[torch.Generator | None],
        temperature: float = 1.0,
        top_p: float = 1.0,
        cache_keys: Sequence[Hashable] | None = None,
    ) -> list[Generation]:
        """Continues each context; a None generator means greedy. Keyed rows may keep state for the next call."""
        ...

    def release(self, keys: Sequence[Hashable]) -> None:
        """Forgets whatever the engine keeps for these keys (the episodes are over)."""
        ...

    def set_weights(self, state: dict[str, torch.Tensor], version: int) -> None:
        """Replaces the policy's trainable weights (a LoRA adapter, or every weight) with the learner's
        `version` (its optimizer step); nothing computed with the old weights is reused afterwards."""
        ...


@dataclass
class _RowCache:
    """The keys/values of one token sequence.

    Attributes:
        ids: The tokens whose keys/values are held. For a sequence kept between calls: its last context plus
            every generated token but the last one (the last sampled token is never fed to the model).
        layers: Per layer, (keys, values), each [H_kv, len(ids), D].
    """

    ids: list[int]
    layers: KV

    def __len__(self) -> int:
        return len(self.ids)


class _RoomyLayer(DynamicLayer):
    """A DynamicLayer with room to grow: new keys/values are written in place.

    DynamicLayer.update concatenates, which copies the whole cache at every decode step (about a fifth of a CPU
    decode step at batch 16 with ~450 cached tokens). Here `keys`/`values` are views of buffers holding
    `capacity` tokens; they grow (by copying) only if the room runs out.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def allocate(self, batch: int, heads: int, head_dim: int, like: torch.Tensor) -> None:
        self.dtype, self.device = like.dtype, like.device
        self._k = like.new_zeros((batch, heads, self.capacity, head_dim))  # [B, H_kv, capacity, D]
        self._v = like.new_zeros((batch, heads, self.capacity, head_dim))
        self.is_initialized = True
        self._set_length(0)

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        B, H, _, D = key_states.shape
        self.allocate(B, H, D, key_states)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs) -> tuple:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = key_states.shape[-2]
        if self.length + n > self._k.shape[-2]:  # out of room: grow, as DynamicLayer would have
            pad = (0, 0, 0, max(self.length + n, 2 * self.length) - self._k.shape[-2])
            self._k, self._v = torch.nn.functional.pad(self._k, pad), torch.nn.functional.pad(self._v, pad)
        self._k[:, :, self.length : self.length + n] = key_states
        self._v[:, :, self.length : self.length + n] = value_states
        self._set_length(self.length + n)
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._k, self._v = self._k[indices], self._v[indices]
        self._set_length(self.length)

    def _set_length(self, length: int) -> None:
        self.length = length
        self.keys, self.values = self._k[:, :, :length], self._v[:, :, :length]  # [B, H_kv, length, D] views


def _plain_lora_layers(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str]] | None:
    """(layer, adapter name) of every LoRA layer if all are plain LoRA linears (one active adapter, no DoRA, no
    LoRA bias, weights stored [out, in]), whose merged delta `HFEngine` can swap in place; else None."""
    from peft.tuners.lora.layer import Linear, LoraLayer

    found = []
    for module in model.modules():
        if not isinstance(module, LoraLayer):
            continue
        names = list(module.active_adapters)
        name = names[0] if len(names) == 1 else None
        plain = (type(module) is Linear and name in module.lora_A and not module.fan_in_fan_out
                 and not module.use_dora.get(name, False) and not getattr(module, "lora_bias", {}).get(name, False))
        if not plain:
            return None
        found.append((module, name))
    return found or None


class HFEngine:
    """Batched sampling from a transformers causal LM on CPU or GPU.

    Args:
        model: The policy (a plain model or a PEFT model).
        pad_token_id: Used to left-pad contexts.
        stop_token_ids: Any of these ends a sequence (the chat template's end-of-turn, EOS).
        reuse_kv: Keep per-sequence KV caches between calls for the rows that come with a cache key. When
            False, `cache_keys` is ignored and every call prefills its whole contexts.
        max_cached_tokens: Upper bound on the tokens held in per-sequence caches. Callers release their keys;
            this only guards against keys that are never released (least recently used go first).
        prune_fraction: During decoding, drop finished rows from the batch (and their KV rows) once at least
            this fraction of the batch has finished; 1.0 never prunes.
        max_padding: Prefill chunks may pad up to this fraction of their real tokens (or `max_padding_tokens`,
            whichever is more); rows that would pad more go to another chunk. float("inf"): one padded chunk.
        max_padding_tokens: See max_padding (small chunks are cheap to pad; each chunk costs a forward call).
        max_chunk_tokens: Padded tokens per prefill chunk (beyond it, a chunk is no faster per token and needs
            more memory). None: 1536 on CPU (measured best for SmolLM2-135M on 2 cores), 16384 on GPU.
        min_shared_prefix: Rows that start with at least this many equal tokens (and have no cache) share one
            prefill of those tokens. A very large value turns sharing off.
        noise_on_device: Where sampled rows draw their Gumbel noise (see `_noise`). None: on the model's device
            when that is not the CPU.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        pad_token_id: int,
        stop_token_ids: list[int],
        *,
        reuse_kv: bool = True,
        max_cached_tokens: int = 65536,
        prune_fraction: float = 0.25,
        max_padding: float = 0.1,
        max_padding_tokens: int = 64,
        max_chunk_tokens: int | None = None,
        min_shared_prefix: int = 32,
        noise_on_device: bool | None = None,
    ) -> None:
        self.model = model.eval()
        self.pad_token_id = pad_token_id
        self.stop_token_ids = sorted(set(stop_token_ids))
        self.device = next(model.parameters()).device
        self.reuse_kv = reuse_kv
        self.max_cached_tokens = max_cached_tokens
        self.prune_fraction = prune_fraction
        self.max_padding = max_padding
        self.max_padding_tokens = max_padding_tokens
        self.max_chunk_tokens = max_chunk_tokens or (1536 if self.device.type == "cpu" else 16384)
        self.min_shared_prefix = min_shared_prefix
        self.noise_on_device = self.device.type != "cpu" if noise_on_device is None else noise_on_device
        self._is_peft = hasattr(model, "peft_config")
        self._merged = False  # a PEFT model's adapter is merged into the base weights by the first set_weights
        self._plain_lora = _plain_lora_layers(model) if self._is_peft else None  # swapped in place by set_weights
        self.weights_version = 0  # the learner step of the current weights
        base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT passes kwargs on
        self._config = base.config
        # Only the last position's logits are needed: skips the [B, T, V] lm_head output of the prefill.
        has_keep = "logits_to_keep" in inspect.signature(base.forward).parameters
        self._forward_kwargs = {"logits_to_keep": 1} if has_keep else {}
        self._caches: OrderedDict[Hashable, _RowCache] = OrderedDict()  # least recently used first
        self.reused_tokens = 0  # context tokens taken from per-sequence caches (cumulative)
        self.shared_tokens = 0  # context tokens taken from a prefix prefilled once for several rows
        self.prefilled_tokens = 0  # context tokens run through the model (cumulative)
        # Rows' keys/values are cut out of and pasted into plain full-attention layers only (not sliding
        # windows, shared or quantised layers). Other models run each call as one padded batch, without reuse.
        layers = DynamicCache(config=self._config).layers
        self.per_row_kv = all(type(layer) is DynamicLayer for layer in layers)
        if not self.per_row_kv:
            log.warning("HFEngine: %s has special cache layers: no KV reuse or chunking", type(base).__name__)

    # ---- weights and caches ---------------------------------------------------------------------------
    def set_weights(self, state: dict[str, torch.Tensor], version: int) -> None:
        """Loads new policy weights: a LoRA adapter's state dict for a PEFT model, else a full state dict.

        Generation runs on merged LoRA weights (the adapter costs nothing per token). The first load merges
        with PEFT; later ones swap the merged delta in place (`_swap_merged_lora`) where every adapted layer is a
        plain LoRA linear, else PEFT unmerges the old adapter and merges the new one.
        """
        if self._is_peft:
            from peft import set_peft_model_state_dict

            if not self._merged:
                set_peft_model_state_dict(self.model, state)
                self.model.merge_adapter()
                self._merged = True
            elif self._plain_lora is not None:
                self._swap_merged_lora(state)
            else:
                self.model.unmerge_adapter()
                set_peft_model_state_dict(self.model, state)
                self.model.merge_adapter()
        else:
            self.model.load_state_dict(state)
        self.weights_version = version
        self._caches.clear()  # keys/values computed with the old weights are stale

    def _swap_merged_lora(self, state: dict[str, torch.Tensor]) -> None:
        """Replaces a merged adapter by `state`'s in one pass over each adapted weight.

        PEFT's unmerge then merge reads and writes every adapted weight twice and forms both deltas in full;
        on one CPU thread that was most of a sync (SmolLM2-135M, LoRA r=16 on all linears: 0.42-0.52 s against
        0.18-0.23 s this way). Here W += s * (B_new A_new - B_old A_old) is a single rank-2r GEMM update:
        W.addmm_([B_new | B_old], [A_new ; -A_old]). Like unmerge + merge it adds and removes deltas, so float
        rounding accumulates the same way; the merged weights differ from PEFT's path in the last bits.
        """
        from peft import set_peft_model_state_dict

        old = [(layer.lora_A[name].weight.detach().clone(), layer.lora_B[name].weight.detach().clone())
               for layer, name in self._plain_lora]
        set_peft_model_state_dict(self.model, state)
        with torch.no_grad():
            for (layer, name), (a_old, b_old) in zip(self._plain_lora, old, strict=True):
                a, b = layer.lora_A[name].weight, layer.lora_B[name].weight  # [r, in], [out, r]
                w = layer.get_base_layer().weight  # [out, in]
                w.addmm_(torch.cat([b, b_old], 1).to(w.dtype), torch.cat([a, -a_old], 0).to(w.dtype),
                         alpha=layer.scaling[name])

    def release(self, keys: Sequence[Hashable]) -> None:
        """Drops the caches of these sequences (unknown keys are ignored)."""
        for key in keys:
            self._caches.pop(key, None)

    @property
    def cached_tokens(self) -> int:
        """Tokens currently held in per-sequence caches."""
        return sum(len(c) for c in self._caches.values())

    # ---- generation -------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        contexts: list[list[int]],
        *,
        max_new_tokens: list[int],
        generators: list[torch.Generator | None],
        temperature: float = 1.0,
        top_p: float = 1.0,
        cache_keys: Sequence[Hashable] | None = None,
    ) -> list[Generation]:
        """Continues every context until a stop token or its own `max_new_tokens`.

        Args:
            contexts: Token ids per sequence (no padding).
            max_new_tokens: Per-sequence budget (>= 1).
            generators: Per-sequence RNG; None means greedy decoding for that sequence.
            temperature: Softmax temperature for sampled sequences.
            top_p: Nucleus sampling threshold.
            cache_keys: Per-sequence keys (unique within the call) under which the sequence's KV cache is kept
                for the next call; a key's cache is reused for the longest prefix of its new context that it
                matches token for token. None: no caching. Call `release` when a sequence is finished.
        """
        B = len(contexts)
        if B == 0:
            return []
        if min(max_new_tokens) < 1:
            raise ValueError(f"max_new_tokens: every budget must be at least 1, got {min(max_new_tokens)}")
        if cache_keys is not None:
            if len(cache_keys) != B:
                raise ValueError(f"cache_keys: {len(cache_keys)} keys for {B} contexts")
            if len(set(cache_keys)) != B:
                raise ValueError("cache_keys: keys must be unique within a call")
        if not (self.reuse_kv and self.per_row_kv):
            cache_keys = None
        dev = self.device
        lengths = [len(c) for c in contexts]
        L = max(lengths)
        room = L + max(max_new_tokens)  # decode cache width: contexts plus every token that may be fed

        # ---- 1. prefill: reuse what rows have cached, share common prefixes, chunk the rest by length ----
        # Per row: a cache (or None) and how many of the context's first tokens it holds.
        hits = [self._take(k, c) for k, c in zip(cache_keys, contexts, strict=True)] if cache_keys else []
        hits = hits or [(None, 0)] * B
        self.reused_tokens += sum(n for _, n in hits)
        if self.per_row_kv:
            hits = self._share_prefixes(contexts, hits)
        chunks = self._chunks([len(c) - n for c, (_, n) in zip(contexts, hits, strict=True)])
        if len(chunks) == 1 and not any(n for _, n in hits):
            # One chunk of whole contexts: its cache is already the decode cache (contexts left-padded to L).
            past = self._cache(room)
            logits, _ = self._prefill(contexts, hits, into=past)
        else:
            logits, kv = self._prefill_rows(contexts, hits, chunks)
            past = self._batched_cache(kv, lengths, L, room)
            del kv
        del hits  # reused caches were copied; each keyed row's cache is stored anew after decoding

        # ---- 2. decode: one batch, every row's context left-padded to L ----
        ends = torch.tensor(lengths, device=dev)  # [B]
        attn = (torch.arange(L, device=dev)[None, :] >= (L - ends)[:, None]).long()  # [B, L] 1 = real token
        next_pos = ends[:, None]  # [B, 1] position of each row's next token
        stop_ids = torch.tensor(self.stop_token_ids, device=dev)
        out_ids: list[list[int]] = [[] for _ in range(B)]
        out_lp: list[list[float]] = [[] for _ in range(B)]
        stopped = [False] * B

        # The batch shrinks as rows finish (see prune_fraction): `rows` maps batch rows to sequences.
        rows = torch.arange(B, device=dev)  # [b] sequence index of each batch row
        budget = torch.tensor(max_new_tokens, device=dev)  # [b]
        done = torch.zeros(B, dtype=torch.bool, device=dev)  # [b]
        gens = list(generators)

        def save(batch_rows: list[int]) -> None:
            """Keeps the caches of these batch rows' keyed sequences (call before they leave the batch)."""
            if cache_keys is None:
                return
            for r in batch_rows:
                i = int(rows[r])
                cols = slice(L - lengths[i], L + len(out_ids[i]) - 1)  # its context, then the tokens it fed
                # clone(): a view would keep the whole batch's buffer alive
                layers = [
                    (lay.keys[r, :, cols].clone(), lay.values[r, :, cols].clone()) for lay in past.layers
                ]
                self._store(cache_keys[i], _RowCache(contexts[i] + out_ids[i][:-1], layers))

        for t in range(int(budget.max())):
            # ---- sampling: per-sequence RNG, so a sequence's draws never depend on its batch mates ----
            # Finished rows draw nothing (greedy placeholder): a generator advances only for its own sequence's
            # tokens, so the next call's draws do not depend on how long the batch mates ran.
            live_gens = [None if d else g for g, d in zip(gens, done.tolist(), strict=True)]
            tokens, logps = self._sample(logits, live_gens, temperature, top_p, self.noise_on_device)  # [b], [b]
            hit_stop = torch.isin(tokens, stop_ids) & ~done  # [b]
            tok, lp, live, hit = tokens.tolist(), logps.tolist(), (~done).tolist(), hit_stop.tolist()
            for r, i in enumerate(rows.tolist()):
                if live[r]:
                    out_ids[i].append(tok[r])
                    out_lp[i].append(lp[r])
                    stopped[i] = hit[r]
            done |= hit_stop | (budget <= t + 1)
            if bool(done.all()):
                break
            n_done = int(done.sum())
            if n_done and n_done >= self.prune_fraction * len(rows):
                # Enough rows finished: drop them (and their cache rows) instead of decoding padding for them.
                save(torch.nonzero(done).flatten().tolist())
                keep = torch.nonzero(~done).flatten()  # [b']
                past.batch_select_indices(keep)
                rows, budget, next_pos, attn = rows[keep], budget[keep], next_pos[keep], attn[keep]
                tokens, done = tokens[keep], done[keep]
                gens = [gens[r] for r in keep.tolist()]
            tokens = torch.where(done, torch.full_like(tokens, self.pad_token_id), tokens)
            attn = torch.cat([attn, (~done).long()[:, None]], dim=1)  # finished rows attend to nothing new
            out = self.model(
                input_ids=tokens[:, None],
                attention_mask=attn,
                position_ids=next_pos,
                past_key_values=past,
                use_cache=True,
                **self._forward_kwargs,
            )
            logits = out.logits[:, -1, :].float()  # [b, V]
            next_pos = next_pos + 1
        save(list(range(len(rows))))
        return [Generation(out_ids[i], out_lp[i], stopped[i]) for i in range(B)]

    # ---- prefill ------------------------------------------------------------------------------------------
    def _share_prefixes(
        self, contexts: list[list[int]], hits: list[tuple[Any, int]]
    ) -> list[tuple[Any, int]]:
        """Rows without a cache that start alike get their common prefix prefilled once, as a shared cache.

        Rows are sorted, so rows that share a prefix are neighbours; a row joins the current group when the
        tokens saved, (rows - 1) x shared length, do not shrink.
        """
        fresh = sorted((i for i, (_, n) in enumerate(hits) if n == 0), key=lambda i: contexts[i])
        groups: list[tuple[list[int], int]] = []  # (rows, shared length)
        for i in fresh:
            if groups:
                members, n = groups[-1]
                common = len(os.path.commonprefix([contexts[members[-1]], contexts[i]]))
                m = min(n, len(contexts[i]) - 1, common)
                if m >= self.min_shared_prefix and len(members) * m >= (len(members) - 1) * n:
                    groups[-1] = (members + [i], m)
                    continue
            groups.append(([i], len(contexts[i]) - 1))  # each row keeps at least one token to prefill
        groups = [(members, n) for members, n in groups if len(members) > 1]
        if not groups:
            return hits
        prefixes = [contexts[members[0]][:n] for members, n in groups]
        _, kv = self._prefill_rows(prefixes, [(None, 0)] * len(prefixes))
        hits = list(hits)
        for (members, n), prefix, layers in zip(groups, prefixes, kv, strict=True):
            shared = _RowCache(prefix, layers)
            for i in members:
                hits[i] = (shared, n)
            self.shared_tokens += n * (len(members) - 1)
        return hits

    def _prefill_rows(
        self, contexts: list[list[int]], hits: list[tuple[Any, int]], chunks: list[list[int]] | None = None
    ) -> tuple[torch.Tensor, list[KV]]:
        """Prefills whole contexts in chunks (default: `_chunks` of their uncached lengths).

        Returns:
            The next-token logits [B, V], and per row, per layer, the (keys, values) of its whole context.
        """
        if chunks is None:
            chunks = self._chunks([len(c) - n for c, (_, n) in zip(contexts, hits, strict=True)])
        kv: list[Any] = [None] * len(contexts)
        logits = None
        for chunk in chunks:
            chunk_logits, chunk_kv = self._prefill([contexts[i] for i in chunk], [hits[i] for i in chunk])
            if logits is None:
                logits = chunk_logits.new_empty((len(contexts), chunk_logits.shape[-1]))  # [B, V]
            logits[chunk] = chunk_logits
            for j, i in enumerate(chunk):
                kv[i] = chunk_kv[j]
        return logits, kv

    def _chunks(self, suffix: list[int]) -> list[list[int]]:
        """Rows grouped for prefill: longest first; a row joins the current chunk while padding stays small
        and the chunk stays under max_chunk_tokens."""
        if not self.per_row_kv:
            return [list(range(len(suffix)))]
        chunks: list[list[int]] = []
        real = 0
        for i in sorted(range(len(suffix)), key=lambda i: -suffix[i]):
            if chunks:
                width = suffix[chunks[-1][0]]  # the chunk's longest row comes first
                size = (len(chunks[-1]) + 1) * width
                padded = size - (real + suffix[i])
                fits = size <= self.max_chunk_tokens
                if fits and padded <= max(self.max_padding * (real + suffix[i]), self.max_padding_tokens):
                    chunks[-1].append(i)
                    real += suffix[i]
                    continue
            chunks.append([i])
            real = suffix[i]
        return chunks

    def _prefill(
        self, contexts: list[list[int]], hits: list[tuple[Any, int]], into: DynamicCache | None = None
    ) -> tuple[torch.Tensor, list[KV]]:
        """Runs one chunk's uncached tokens through the model.

        Args:
            contexts: The chunk's contexts.
            hits: Per row, its cache (or None) and how many of its first tokens the cache holds.
            into: An empty cache to fill (only when no row has a cache hit): the rows' keys/values are left in it,
                left-padded, instead of being cut out.

        Returns:
            The next-token logits [b, V], and (without `into`) per row, per layer, the (keys, values)
            [H_kv, len(context), D] of its whole context.
        """
        dev, b = self.device, len(contexts)
        prefix = [n for _, n in hits]
        suffix = [len(c) - n for c, n in zip(contexts, prefix, strict=True)]
        P, S = max(prefix), max(suffix)
        assert into is None or P == 0
        self.prefilled_tokens += sum(suffix)
        input_ids = torch.full((b, S), self.pad_token_id, dtype=torch.long, device=dev)  # [b, S] left-padded
        positions = torch.zeros((b, S), dtype=torch.long, device=dev)  # [b, S] pads: 0 (never attended to)
        attn = torch.zeros((b, P + S), dtype=torch.long, device=dev)  # [b, P + S] 1 = real token
        for i, (c, n, s) in enumerate(zip(contexts, prefix, suffix, strict=True)):
            input_ids[i, S - s :] = torch.tensor(c[n:], dtype=torch.long, device=dev)
            positions[i, S - s :] = torch.arange(n, n + s, device=dev)  # continue from the cached length
            attn[i, P - n : P] = 1
            attn[i, P + S - s :] = 1
        if P > 0:
            past = self._batched_cache([c.layers if c else None for c, _ in hits], prefix, P, P + S)
        else:
            past = into if into is not None else self._cache(S)
        out = self.model(
            input_ids=input_ids,
            attention_mask=attn,
            position_ids=positions,
            past_key_values=past,
            use_cache=True,
            **self._forward_kwargs,
        )
        logits = out.logits[:, -1, :].float()  # [b, V]
        if into is not None:
            return logits, []
        layers = out.past_key_values.layers
        kv = []
        for i, (n, s) in enumerate(zip(prefix, suffix, strict=True)):
            # Real columns of row i: its reused cache, then its new tokens.
            cols = torch.cat([torch.arange(P - n, P, device=dev), torch.arange(P + S - s, P + S, device=dev)])
            kv.append(
                [(lay.keys[i].index_select(1, cols), lay.values[i].index_select(1, cols)) for lay in layers]
            )
        return logits, kv

    # ---- caches ---------------------------------------------------------------------------------------------
    def _cache(self, capacity: int) -> DynamicCache:
        """An empty cache whose layers have room for `capacity` tokens."""
        cache = DynamicCache(config=self._config)
        if self.per_row_kv:
            cache.layers = [_RoomyLayer(capacity) for _ in cache.layers]
        return cache

    def _batched_cache(self, kv: list[KV | None], take: list[int], width: int, capacity: int) -> DynamicCache:
        """A cache for a batch: row i's first take[i] tokens from kv[i], left-padded to `width` columns.

        Args:
            kv: Per row, per layer (keys, values) [H_kv, >= take[i], D]; None for rows with take[i] == 0.
            take: How many leading tokens of each row to use.
            width: The cache's length (>= max(take)).
            capacity: Room for this many tokens in all (>= width).
        """
        cache = self._cache(capacity)
        ref = next(row for row, n in zip(kv, take, strict=True) if n > 0)
        for layer_idx, layer in enumerate(cache.layers):
            k_ref = ref[layer_idx][0]
            layer.allocate(len(kv), k_ref.shape[0], k_ref.shape[-1], k_ref)  # zeros in the padding, masked anyway
            for i, (row, n) in enumerate(zip(kv, take, strict=True)):
                if n > 0:
                    layer._k[i, :, width - n : width] = row[layer_idx][0][:, :n]
                    layer._v[i, :, width - n : width] = row[layer_idx][1][:, :n]
            layer._set_length(width)
        return cache

    def _take(self, key: Hashable | None, context: list[int]) -> tuple[_RowCache | None, int]:
        """Removes the key's cache and says how many of `context`'s first tokens it holds (checked one by one).

        The cache leaves the store (so it is not held twice while the batch decodes); `generate` stores the
        row's extended cache when it is done.
        """
        cache = self._caches.pop(key, None) if key is not None else None
        if cache is None:
            return None, 0
        # At least one token must be fed to get the next token's logits, so reuse at most len(context) - 1.
        n = min(len(cache), len(context) - 1)
        if cache.ids[:n] != context[:n]:  # the context does not extend the cache: reuse the common prefix only
            n = len(os.path.commonprefix([cache.ids[:n], context[:n]]))
        return (cache, n) if n > 0 else (None, 0)

    def _store(self, key: Hashable, cache: _RowCache) -> None:
        self._caches.pop(key, None)
        self._caches[key] = cache
        total = self.cached_tokens
        while total > self.max_cached_tokens and len(self._caches) > 1:  # never evict the one just stored
            _, evicted = self._caches.popitem(last=False)
            total -= len(evicted)

    # ---- sampling -------------------------------------------------------------------------------------------

    @staticmethod
    def _noise(generators: list[torch.Generator], vocab: int, device: torch.device, on_device: bool) -> torch.Tensor:
        """Uniform noise [R, vocab], row r's drawn from `generators[r]` alone (the sequence's own RNG).

        Off device, each row draws its vocab-wide noise from its generator on the CPU: the same numbers on any
        device. On an H200 that took about 73% of the engine's time at 256 rows (README, On a GPU), so on device
        each row draws one 63-bit seed from its generator and a device generator seeded with it draws the row's
        noise there. A row's noise still depends on its own sequence's RNG alone, but differs from the CPU's.
        """
        if not on_device:
            return torch.stack([torch.rand(vocab, generator=g) for g in generators]).to(device)
        u = torch.empty(len(generators), vocab, device=device)  # [R, V]
        for r, g in enumerate(generators):
            seed = int(torch.randint(0, 2**63 - 1, (1,), generator=g))
            u[r].uniform_(generator=torch.Generator(device=device).manual_seed(seed))
        return u

    @staticmethod
    def _sample(
        logits: torch.Tensor,
        generators: list[torch.Generator | None],
        temperature: float,
        top_p: float,
        noise_on_device: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy tokens for rows without a generator; exact samples from softmax(logits / T), top-p, for the rest.

        Returns:
            tokens [B] and their logprobs [B]: under softmax(logits / T) (after top-p renormalisation) for sampled
            rows, under softmax(logits) for greedy rows.
        """
        tokens = logits.argmax(dim=-1)  # [B] greedy by default
        out_lp = torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)  # [B]
        sampled = [i for i, g in enumerate(generators) if g is not None]
        if not sampled:
            return tokens, out_lp
        idx = torch.tensor(sampled, device=logits.device)  # [R]
        lp = torch.log_softmax(logits[idx] / temperature, dim=-1)  # [R, V]
        if top_p < 1.0:
            sorted_lp, order = lp.sort(dim=-1, descending=True)  # [R, V]
            p = sorted_lp.exp()
            in_nucleus = p.cumsum(-1) - p < top_p  # always keeps the top token
            keep = torch.zeros_like(lp, dtype=torch.bool).scatter(-1, order, in_nucleus)
            lp = lp.masked_fill(~keep, float("-inf"))
            lp = lp - torch.logsumexp(lp, dim=-1, keepdim=True)
        u = HFEngine._noise([generators[i] for i in sampled], lp.shape[-1], lp.device, noise_on_device)  # [R, V]
        u = u.clamp_(1e-20, 1.0)
        # Gumbel-max: argmax(logp + Gumbel noise) is an exact sample from softmax(logp).
        tok = torch.argmax(lp - torch.log(-torch.log(u)), dim=-1)  # [R]
        tokens[idx] = tok
        out_lp[idx] = lp.gather(-1, tok[:, None]).squeeze(-1)
        return tokens, out_lp

"""The latency cost model: simulated seconds per sample from its recorded segments and a cost pair.

A sample is a prompt of P tokens followed by segments (role, start, length, context): `length` tokens generated
by the small or the big model when the sequence already held `context` tokens. Requests that wrote nothing
(recorded apart, in `extra["empty_requests"]`) join as zero-length segments: they still prefill and pay the
request overhead. Two deployments are simulated:

- sequential: one model runs at a time. A model prefills every token it has not seen yet (the prompt on its
  first segment, then whatever the other model wrote since its last turn) before it decodes its segment. With
  a block-wise prefix cache (`prefix_block_tokens` B > 1, as vLLM's) it recomputes from the end of the last full
  block it cached instead: floor((min(seen, context) - 1) / B) * B tokens are reused (the last token a model
  wrote has no cache entry yet, and a request always computes at least one token).
- pipelined (SplitReason's simulator): both models hold the sequence on their own devices. Both prefill the
  prompt at once (the slower one sets the time); during each segment the idle model prefills the same tokens in
  the background, so a segment costs max(decode by the active model, prefill by the idle one). Tokens evalkit
  inserts between segments (a forced `</think>`) are prefilled by both at once.

Every segment is one request to its model, and each request also costs that model's fixed `request_overhead_s`
(0 in SplitReason's simulator and the shipped profile; `evalkit calibrate` measures it): the active model's
term in both deployments.

Decoding a token at context c costs (1 + slowdown * c / 1000) / decode_tps; summed over a segment that is exact
in closed form, so the cost of a segment does not depend on how it is chunked. Prefill is linear in tokens.
Unlike SplitReason's simulator, which rounds offloaded tokens to 256-token chunks, every segment counts as is.

`simulate` works on a columnar `SegmentTable` (numpy, no Python loop per segment); `simulate_sample` is the
same model written plainly, one sample at a time, and serves as its reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Iterable, Sequence

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.sim.profile import CostPair, ModelCost
from evalkit.types import Generation, Segment

ROLES = ("small", "big")
SMALL, BIG = 0, 1


@dataclass(frozen=True)
class Latency:
    sequential: float
    pipelined: float


def decode_seconds(cost: ModelCost, context: float, length: float) -> float:
    mean_context = context + (length - 1) / 2 if length > 0 else context
    return length / cost.decode_tps * (1 + cost.decode_slowdown_per_1k * mean_context / 1000)


def prefill_seconds(cost: ModelCost, tokens: float) -> float:
    return max(tokens, 0) / cost.prefill_tps


def cached_tokens(cost: ModelCost, seen: int, context: int) -> int:
    """Tokens of the sequence a model reuses from its prefix cache when it takes the sequence back."""
    b = cost.prefix_block_tokens
    if b <= 1:
        return seen
    return max(min(seen, context) - 1, 0) // b * b


def role_index(name: str) -> int:
    try:
        return ROLES.index(name)
    except ValueError:
        raise EvalkitError(f"segment model {name!r} is not small or big: this generations.jsonl was not written by an offload run") from None


def simulate_sample(prompt_tokens: int, segments: Sequence[Segment], costs: CostPair, force: str | None = None) -> Latency:
    """One sample, plainly. `force` ("small"/"big") re-assigns every segment to one model (the baselines)."""
    cost = {"small": costs.small, "big": costs.big}
    other = {"small": "big", "big": "small"}
    seen = {"small": 0, "big": 0}
    first = force or (segments[0].model if segments else "small")
    seq = 0.0 if segments else prefill_seconds(cost[first], prompt_tokens)
    pipe = max(prefill_seconds(costs.small, prompt_tokens), prefill_seconds(costs.big, prompt_tokens))
    end = prompt_tokens
    for s in segments:
        role = force or s.model
        role_index(role)
        active = cost[role].request_overhead_s + decode_seconds(cost[role], s.context, s.length)
        seq += prefill_seconds(cost[role], s.context - cached_tokens(cost[role], seen[role], s.context)) + active
        seen[role] = s.context + s.length
        gap = s.context - end
        if gap > 0:
            pipe += max(prefill_seconds(costs.small, gap), prefill_seconds(costs.big, gap))
        pipe += max(active, prefill_seconds(cost[other[role]], s.length))
        end = s.context + s.length
    return Latency(seq, pipe)


@dataclass(frozen=True)
class SegmentTable:
    """Segments of many samples as flat arrays; the segments of one sample are contiguous and in order."""

    prompt: np.ndarray  # int64 [samples]
    sample: np.ndarray  # int64 [segments], index into prompt, non-decreasing
    role: np.ndarray  # int8 [segments], SMALL or BIG
    context: np.ndarray  # int64 [segments]
    length: np.ndarray  # int64 [segments]

    @property
    def samples(self) -> int:
        return int(self.prompt.size)

    @classmethod
    def from_samples(cls, samples: Iterable[tuple[int, Sequence[Segment]]]) -> "SegmentTable":
        prompt, sample, role, context, length = [], [], [], [], []
        for i, (p, segs) in enumerate(samples):
            prompt.append(p)
            for s in segs:
                sample.append(i)
                role.append(role_index(s.model))
                context.append(s.context)
                length.append(s.length)
        return cls(
            np.asarray(prompt, dtype=np.int64), np.asarray(sample, dtype=np.int64), np.asarray(role, dtype=np.int8),
            np.asarray(context, dtype=np.int64), np.asarray(length, dtype=np.int64),
        )

    @classmethod
    def from_generations(cls, gens: Iterable[Generation]) -> "SegmentTable":
        return cls.from_samples((prompt_tokens(g), _with_empty(g.segments, g.extra)) for g in gens)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> "SegmentTable":
        """From generations.jsonl rows as parsed JSON, without building Generation objects (the fast path for
        re-simulating large runs from files)."""
        rows = rows if isinstance(rows, list) else list(rows)
        prompt = np.fromiter((_row_prompt(r) for r in rows), dtype=np.int64, count=len(rows))
        per_row = [_row_segments(r) for r in rows]
        counts = np.fromiter(map(len, per_row), dtype=np.int64, count=len(rows))
        segs = [s for ss in per_row for s in ss]
        m = len(segs)
        index = {name: i for i, name in enumerate(ROLES)}
        try:
            role = np.fromiter(map(index.__getitem__, map(itemgetter("model"), segs)), dtype=np.int8, count=m)
        except KeyError:
            bad = next(s["model"] for s in segs if s["model"] not in index)
            role_index(bad)  # raises the clear error
            raise
        return cls(
            prompt, np.repeat(np.arange(len(rows), dtype=np.int64), counts), role,
            np.fromiter(map(itemgetter("context"), segs), dtype=np.int64, count=m),
            np.fromiter(map(itemgetter("length"), segs), dtype=np.int64, count=m),
        )


def _row_segments(row: dict[str, Any]) -> Sequence[dict[str, Any]]:
    segs = row.get("segments") or ()
    empty = (row.get("extra") or {}).get("empty_requests")
    if not empty:
        return segs
    return _in_order([*segs, *({"model": m, "start": 0, "length": 0, "context": c} for m, c in empty)],
                     lambda s: (s["context"], s["length"] > 0))


def _with_empty(segments: Sequence[Segment], extra: dict[str, Any]) -> Sequence[Segment]:
    empty = extra.get("empty_requests")
    if not empty:
        return segments
    return _in_order([*segments, *(Segment(m, 0, 0, c) for m, c in empty)], lambda s: (s.context, s.length > 0))


def _in_order(items: list, key: Any) -> list:
    """Segments and empty requests in the order they were sent: by context, an empty request before a segment
    that starts where it was sent (that segment's request came after it)."""
    return sorted(items, key=key)


def _row_prompt(row: dict[str, Any]) -> int:
    extra = row.get("extra") or {}
    if "prompt_tokens" in extra:
        return int(extra["prompt_tokens"])
    segs = row.get("segments") or ()
    return int(segs[0]["context"]) if segs else 0


def prompt_tokens(g: Generation) -> int:
    if "prompt_tokens" in g.extra:
        return int(g.extra["prompt_tokens"])
    return g.segments[0].context if g.segments else 0


def _decode(cost_decode: np.ndarray, cost_slow: np.ndarray, context: np.ndarray, length: np.ndarray) -> np.ndarray:
    mean_context = context + np.maximum(length - 1, 0) / 2
    return length / cost_decode * (1 + cost_slow * mean_context / 1000)


def simulate(table: SegmentTable, costs: CostPair, force: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seconds per sample (sequential, pipelined), vectorised over all segments of all samples."""
    n, m = table.samples, table.sample.size
    prefill = np.array([costs.small.prefill_tps, costs.big.prefill_tps])
    decode = np.array([costs.small.decode_tps, costs.big.decode_tps])
    slow = np.array([costs.small.decode_slowdown_per_1k, costs.big.decode_slowdown_per_1k])
    overhead = np.array([costs.small.request_overhead_s, costs.big.request_overhead_s])
    block = np.array([costs.small.prefix_block_tokens, costs.big.prefix_block_tokens], dtype=np.int64)
    role = np.full(m, role_index(force), dtype=np.int8) if force else table.role
    ctx, length, sample = table.context, table.length, table.sample
    end = ctx + length
    dec = overhead[role] + _decode(decode[role], slow[role], ctx, length)  # the active model's time

    # Sequential: the previous segment of the same role in the same sample says what that model has seen.
    order = np.lexsort((np.arange(m), role, sample))
    so, ro, eo = sample[order], role[order], end[order]
    seen_sorted = np.zeros(m, dtype=np.int64)
    if m > 1:
        same = (so[1:] == so[:-1]) & (ro[1:] == ro[:-1])
        seen_sorted[1:] = np.where(same, eo[:-1], 0)
    seen = np.empty(m, dtype=np.int64)
    seen[order] = seen_sorted
    b = block[role]
    cached = np.where(b > 1, np.maximum(np.minimum(seen, ctx) - 1, 0) // b * b, seen)
    seq_seg = np.maximum(ctx - cached, 0) / prefill[role] + dec
    seq = np.bincount(sample, weights=seq_seg, minlength=n)
    has = np.bincount(sample, minlength=n) > 0
    first_role = np.full(n, role_index(force) if force else SMALL, dtype=np.int8)
    seq = np.where(has, seq, table.prompt / prefill[first_role])

    # Pipelined: both prefill the prompt and any inserted tokens; the idle model prefills in the background.
    prev_end = table.prompt[sample].copy()
    if m > 1:
        cont = sample[1:] == sample[:-1]
        prev_end[1:] = np.where(cont, end[:-1], prev_end[1:])
    gap = np.maximum(ctx - prev_end, 0)
    both = gap / prefill.min()
    pipe_seg = both + np.maximum(dec, length / prefill[1 - role])
    pipe = table.prompt / prefill.min() + np.bincount(sample, weights=pipe_seg, minlength=n)
    return seq, pipe

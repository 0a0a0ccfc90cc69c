"""Offload (SplitReason, arXiv 2504.16379): a small model reasons and a big model takes some spans.

Policies, each a label in `Generation.budget` (strategy "offload"):

- `none`: the small model alone. `big`: the big model alone.
- `learned`: the small model generates until it writes the open tag (`<bigmodel>`); the big model continues from
  the very same token prefix until it writes the close tag (`</bigmodel>`) or has written `span_cap` tokens
  (default 512), then the small model resumes. Nothing is inserted when the cap cuts a span short.
- `random-R`: the generation is cut into spans of `span` tokens (default 32) and each span goes to the big model
  with probability p = R. Each token inherits its span's draw, so the expected share of big-model tokens is R
  whenever where a sequence stops does not depend on which model wrote it. Consecutive spans drawn for the same
  model go out as one request (same tokens, fewer calls).

Both models must share a tokenizer (checked up front), so a switch hands over token ids, never re-tokenised text.

The whole generation is offloaded, answer included: the thinking phase (at most `thinking_budget` tokens, ends at
`</think>`; if the budget runs out evalkit appends `</think>` and marks the sample forced, as the sweep does) and
then the solution phase (at most `solution_budget` tokens, ends at EOS) both run under the same policy, so the
`big` policy is the big model alone from start to end. The solution is graded as the sweep grades it.

Each (problem, sample, policy) is one controller (`offload_group`): plain sequential code that sends one request
at a time to whichever model holds the sequence; the runner runs thousands of them at once over streaming engines. Each sample records its segments (role "small" or
"big", first generated token, length, context before it), from which `evalkit.sim` simulates latency; requests
that wrote nothing (a model ending at once) are no segment but are listed in `extra["empty_requests"]` as
[role, context], since they still cost time.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, Literal

from evalkit.engines.base import THINK_CLOSE, Engine
from evalkit.errors import EvalkitError
from evalkit.reasoning.jobs import Job, derive_seed
from evalkit.types import Finish, GenRequest, GenResult, Generation, Sampling, Segment

PolicyKind = Literal["none", "big", "learned", "random"]
Role = Literal["small", "big"]
STRATEGY = "offload"


@dataclass(frozen=True)
class Policy:
    kind: PolicyKind
    ratio: float | None = None  # random: the asked share of big-model tokens

    @property
    def label(self) -> str:
        return f"random-{self.ratio:g}" if self.kind == "random" else self.kind

    @property
    def asked_ratio(self) -> float | None:
        return {"none": 0.0, "big": 1.0, "learned": None, "random": self.ratio}[self.kind]


def parse_policies(policies: str, ratios: str) -> tuple[Policy, ...]:
    """'none,learned,random,big' and '0.1,0.25' -> Policy objects; random expands to one policy per ratio."""
    out: list[Policy] = []
    names = [p.strip() for p in policies.split(",") if p.strip()]
    if not names:
        raise EvalkitError("--policies is empty: use a comma-separated list of none, learned, random, big")
    for name in names:
        if name not in ("none", "big", "learned", "random"):
            raise EvalkitError(f"unknown offload policy {name!r}: use none, learned, random or big")
        if name != "random":
            out.append(Policy(name))  # type: ignore[arg-type]
            continue
        values = [r.strip() for r in ratios.split(",") if r.strip()]
        if not values:
            raise EvalkitError("the random policy needs --ratios, e.g. --ratios 0.1,0.25,0.5")
        for v in values:
            try:
                r = float(v)
            except ValueError:
                raise EvalkitError(f"--ratios value {v!r} is not a number: use shares of big-model tokens like 0.25") from None
            if not 0.0 <= r <= 1.0:
                raise EvalkitError(f"--ratios value {v} must be between 0 and 1 (a share of big-model tokens)")
            out.append(Policy("random", r))
    unique = list(dict.fromkeys(out))
    return tuple(unique)


def policy_from_label(label: str) -> Policy:
    if label.startswith("random-"):
        return Policy("random", float(label[len("random-"):]))
    if label in ("none", "big", "learned"):
        return Policy(label)  # type: ignore[arg-type]
    raise EvalkitError(f"{label!r} is not an offload policy label: this is not an offload run")


@dataclass(frozen=True)
class OffloadContext:
    thinking_budget: int
    solution_budget: int
    sampling: Sampling
    seed: int
    span: int = 32
    span_cap: int = 512
    open_tag: str = "<bigmodel>"
    close_tag: str = "</bigmodel>"

    def __post_init__(self) -> None:
        if self.span < 1:
            raise EvalkitError(f"--span must be >= 1 token (got {self.span})")
        if self.span_cap < 1:
            raise EvalkitError(f"--span-cap must be >= 1 token (got {self.span_cap})")
        if not self.open_tag or not self.close_tag or self.open_tag == self.close_tag:
            raise EvalkitError("--open-tag and --close-tag must be two different non-empty strings")


def check_same_tokenizer(small: Engine, big: Engine) -> None:
    """Offload hands token ids from one model to the other: both must read them the same way."""
    if small is big:
        return
    a, b = small.tokenizer.fingerprint(), big.tokenizer.fingerprint()
    if a != b:
        what = next(k for k in a if a.get(k) != b.get(k))
        raise EvalkitError(
            f"small model {small.name!r} and big model {big.name!r} use different tokenizers ({what} differs): "
            "offload needs two models of one family with the same tokenizer"
        )


class _Sequence:
    """One problem x sample x policy moving through its phases; `request` and `advance` alternate."""

    def __init__(self, job: Job, policy: Policy, ctx: OffloadContext, small: Engine, max_len: int) -> None:
        self.job, self.policy, self.ctx = job, policy, ctx
        self.tok = small.tokenizer
        self.close_ids = tuple(self.tok.close_ids)
        self.max_len = max_len
        self.prompt = job.prompt_ids
        self.thinking: list[int] = []
        self.solution: list[int] = []
        self.appended: tuple[int, ...] = ()
        self.segments: list[Segment] = []
        self.empty: list[tuple[Role, int]] = []  # (role, context) of requests that wrote nothing (EOS at once)
        self.forced = False
        self.thinking_finish: Finish = "length"
        self.solution_finish: Finish = "length"
        self.calls = 0
        self.done = False
        room = max_len - len(self.prompt) - ctx.solution_budget - len(self.close_ids)
        if room < 0:
            raise EvalkitError(
                f"{job.problem.benchmark}/{job.problem.id}: prompt of {len(self.prompt)} tokens leaves no room for a "
                f"{ctx.solution_budget}-token solution: raise --max-model-len or lower --solution-budget"
            )
        self._start_phase("thinking", min(ctx.thinking_budget, room))

    # phases ---------------------------------------------------------------------------------------------
    def _start_phase(self, phase: str, cap: int) -> None:
        self.phase, self.cap = phase, cap
        self.role: Role = "big" if self.policy.kind == "big" else "small"
        self._draws: list[bool] = []
        self._rng = random.Random(derive_seed(self.ctx.seed, *self.job.group, self.policy.label, phase, "spans"))
        if cap <= 0:
            self._end_phase("length")

    @property
    def phase_ids(self) -> list[int]:
        return self.thinking if self.phase == "thinking" else self.solution

    def _end_phase(self, finish: Finish) -> None:
        if self.phase == "thinking":
            self.thinking_finish = finish
            if finish == "length":
                self.forced, self.appended = True, self.close_ids
            elif finish == "eos":
                self.appended = self.close_ids  # the model ended without closing thinking: close it for the answer
            context = len(self.prompt) + len(self.thinking) + len(self.appended)
            self._start_phase("solution", min(self.ctx.solution_budget, self.max_len - context))
        else:
            self.solution_finish = finish
            self.done = True

    # random spans ---------------------------------------------------------------------------------------
    def _draw(self, k: int) -> bool:
        p = self.policy.ratio or 0.0
        while len(self._draws) <= k:
            self._draws.append(self._rng.random() < p)
        return self._draws[k]

    def _random_run(self, pos: int) -> tuple[Role, int]:
        """The role of the span holding `pos` and where the run of same-role spans starting there ends."""
        span = self.ctx.span
        k = pos // span
        big = self._draw(k)
        j = k
        while (j + 1) * span < self.cap and self._draw(j + 1) == big:
            j += 1
        return ("big" if big else "small"), min((j + 1) * span, self.cap)

    # one step -------------------------------------------------------------------------------------------
    def request(self) -> tuple[Role, GenRequest]:
        pos = len(self.phase_ids)
        remaining = self.cap - pos
        stop_ids, stop_strings = _phase_stops_for(self.tok, self.phase == "thinking")
        kind = self.policy.kind
        if kind == "random":
            self.role, end = self._random_run(pos)
            max_tokens = end - pos
        elif kind == "learned":
            if self.role == "small":
                max_tokens, stop_strings = remaining, stop_strings + (self.ctx.open_tag,)
            else:
                max_tokens, stop_strings = min(self.ctx.span_cap, remaining), stop_strings + (self.ctx.close_tag,)
        else:
            max_tokens = remaining
        prefix = tuple(self.thinking) + (self.appended + tuple(self.solution) if self.phase == "solution" else ())
        req = GenRequest(
            prompt_ids=self.prompt + prefix, max_tokens=max_tokens, sampling=self.ctx.sampling,
            seed=derive_seed(self.ctx.seed, *self.job.group, self.policy.label, self.phase, pos, self.role),
            stop_ids=stop_ids, stop_strings=stop_strings,
        )
        return self.role, req

    def advance(self, role: Role, req: GenRequest, res: GenResult) -> None:
        self.calls += 1
        ids = list(res.token_ids[: req.max_tokens])
        start = len(self.thinking) + len(self.solution)
        self._add_segment(role, start, len(ids), len(req.prompt_ids))
        self.phase_ids.extend(ids)
        if res.finish == "eos" or not ids:
            # EOS ends the phase; so does an empty answer, which would otherwise be asked again forever.
            self._end_phase("eos" if res.finish == "eos" else res.finish)
            return
        if res.finish == "stop":
            hit = _stop_hit(res, req)
            if hit == THINK_CLOSE:
                self._end_phase("stop")
                return
            if self.policy.kind == "learned" and hit in (self.ctx.open_tag, self.ctx.close_tag):
                self.role = "big" if hit == self.ctx.open_tag else "small"
        elif self.policy.kind == "learned" and self.role == "big":
            self.role = "small"  # the span cap cut the big model's span: the small model resumes
        # The phase budget may be used up by now; otherwise a random run ended and the next request re-plans.
        if len(self.phase_ids) >= self.cap:
            self._end_phase("length")

    def _add_segment(self, role: Role, start: int, length: int, context: int) -> None:
        if length <= 0:
            # No segment (segments tile the written tokens), but the request still cost a prefill: kept for
            # the latency simulator.
            self.empty.append((role, context))
            return
        last = self.segments[-1] if self.segments else None
        if last and last.model == role and last.context + last.length == context and last.start + last.length == start:
            self.segments[-1] = Segment(role, last.start, last.length + length, last.context)
        else:
            self.segments.append(Segment(role, start, length, context))

    def generation(self) -> Generation:
        big = sum(s.length for s in self.segments if s.model == "big")
        total = len(self.thinking) + len(self.solution)
        switches = sum(1 for a, b in zip(self.segments, self.segments[1:]) if a.model != b.model)
        label = self.policy.label
        return Generation(
            benchmark=self.job.problem.benchmark, problem_id=self.job.problem.id, sample=self.job.sample,
            strategy=STRATEGY, budget=label, thinking_budget=self.ctx.thinking_budget,
            solution_budget=self.ctx.solution_budget, thinking_tokens=len(self.thinking),
            solution_tokens=len(self.solution), forced=self.forced, thinking_finish=self.thinking_finish,
            solution_finish=self.solution_finish, thinking_text=self.tok.decode(self.thinking),
            solution_text=self.tok.decode(self.solution), seed=derive_seed(self.ctx.seed, *self.job.group, label),
            segments=tuple(self.segments),
            extra={
                "prompt_tokens": len(self.prompt), "appended_tokens": len(self.appended),
                "small_tokens": total - big, "big_tokens": big,
                "offload_ratio": big / total if total else 0.0, "asked_ratio": self.policy.asked_ratio,
                "switches": switches, "engine_calls": self.calls,
                **({"empty_requests": [[r, c] for r, c in self.empty]} if self.empty else {}),
            },
        )


def _phase_stops_for(tok: Any, thinking: bool) -> tuple[tuple[int, ...], tuple[str, ...]]:
    if not thinking:
        return (), ()
    if tok.close_is_single_token:
        return tuple(tok.close_ids), ()
    return (), (THINK_CLOSE,)


def _stop_hit(res: GenResult, req: GenRequest) -> str | None:
    """Which stop ended this call: `</think>` (as a stop id or string) or one of the tags."""
    if res.token_ids and req.stop_ids and res.token_ids[-1] in req.stop_ids:
        return THINK_CLOSE
    best, best_end = None, -1
    for s in req.stop_strings:
        i = res.text.rfind(s)
        if i >= 0 and i + len(s) > best_end:
            best, best_end = s, i + len(s)
    return best


async def offload_group(small: Engine, big: Engine, job: Job, policy: Policy, ctx: OffloadContext) -> Generation:
    """Drive one (job, policy) to the end of its solution phase: plain sequential code, one request at a time to
    whichever model holds the sequence. The runner runs thousands of these at once over streaming engines."""
    engines: dict[Role, Engine] = {"small": small, "big": big}
    seq = _Sequence(job, policy, ctx, small, min(small.max_model_len, big.max_model_len))
    while not seq.done:
        role, req = seq.request()
        (res,) = await engines[role].agenerate([req])
        seq.advance(role, req, res)
    return seq.generation()


@dataclass
class OffloadOutput:
    generations: list[Generation]
    generated_tokens: int
    calls: int  # requests sent to the engines


def run_offload(small: Any, big: Any, items: list[tuple[Job, Policy]], ctx: OffloadContext) -> OffloadOutput:
    """Run many (job, policy) controllers at once to the end, from synchronous code (tests, notebooks). Engines
    that only batch are streamed through an adapter."""
    from evalkit.engines.streaming import StreamingEngine, streaming

    check_same_tokenizer(small, big)
    s = streaming(small)
    b = s if big is small else streaming(big)
    try:
        gens = asyncio.run(_gather(s, b, items, ctx))
    finally:
        for eng, orig in ((s, small), (b, big)):
            if eng is not orig and isinstance(eng, StreamingEngine):
                eng.close_stream()
    return OffloadOutput(gens, sum(g.thinking_tokens + g.solution_tokens for g in gens),
                         sum(g.extra["engine_calls"] for g in gens))


async def _gather(small: Engine, big: Engine, items: list[tuple[Job, Policy]], ctx: OffloadContext) -> list[Generation]:
    return list(await asyncio.gather(*(offload_group(small, big, job, pol, ctx) for job, pol in items)))

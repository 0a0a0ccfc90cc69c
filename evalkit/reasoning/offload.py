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
- `random-exact-R` (`--exact-ratio`): a running deficit instead of coin flips: every `span` tokens form one cycle,
  R x span written by the big model and the rest by the small one, so at every point of a sample the big model's
  count stays within R(1-R) x span tokens of R times the tokens generated so far; the cycle starts at a random
  offset per sample so no stopping point favours either model, and a sample that writes to its budgets lands on R
  to a token. Coin flips spread binomially instead (on the demo, asked 0.25 and 0.5 gave 26 % and 24 %); short
  samples want a short cycle (`--span 8`).
- `step-R`: whole reasoning steps, the granularity of SpecReason and RSD: each step (text up to a blank line,
  "\n\n") goes to the big model with probability R. `step-exact-R` picks the big model for a step whenever its
  share so far is below R (a running deficit at step granularity).

Hand-offs (small -> big switches) and the big model's share of generated tokens are recorded per sample; cost in
R2R's unit (generated tokens x parameters of the model that wrote them) is computed in `evalkit.offload_summary`.

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
import math
import random
import re
from dataclasses import dataclass
from typing import Any, Literal

from evalkit.engines.base import THINK_CLOSE, Engine
from evalkit.errors import EvalkitError
from evalkit.reasoning.jobs import Job, derive_seed
from evalkit.types import Finish, GenRequest, GenResult, Generation, Sampling, Segment

PolicyKind = Literal["none", "big", "learned", "random", "step"]
Role = Literal["small", "big"]
STRATEGY = "offload"
STEP_BREAK = "\n\n"  # a reasoning step ends at a blank line, as SpecReason and RSD split them
RATIO_KINDS = ("random", "step")


@dataclass(frozen=True)
class Policy:
    kind: PolicyKind
    ratio: float | None = None  # random, step: the asked share of big-model tokens
    exact: bool = False  # random, step: a running deficit instead of independent draws

    @property
    def label(self) -> str:
        if self.kind in RATIO_KINDS:
            return f"{self.kind}{'-exact' if self.exact else ''}-{self.ratio:g}"
        return self.kind

    @property
    def asked_ratio(self) -> float | None:
        return {"none": 0.0, "big": 1.0, "learned": None}.get(self.kind, self.ratio)


def parse_policies(policies: str, ratios: str, exact: bool = False) -> tuple[Policy, ...]:
    """'none,learned,random,step,big' and '0.1,0.25' -> Policy objects; random and step expand to one policy per
    ratio, with the running-deficit layout when `exact`."""
    out: list[Policy] = []
    names = [p.strip() for p in policies.split(",") if p.strip()]
    if not names:
        raise EvalkitError("--policies is empty: use a comma-separated list of none, learned, random, step, big")
    for name in names:
        if name not in ("none", "big", "learned", "random", "step"):
            raise EvalkitError(f"unknown offload policy {name!r}: use none, learned, random, step or big")
        if name not in RATIO_KINDS:
            out.append(Policy(name))  # type: ignore[arg-type]
            continue
        values = [r.strip() for r in ratios.split(",") if r.strip()]
        if not values:
            raise EvalkitError(f"the {name} policy needs --ratios, e.g. --ratios 0.1,0.25,0.5")
        for v in values:
            try:
                r = float(v)
            except ValueError:
                raise EvalkitError(f"--ratios value {v!r} is not a number: use shares of big-model tokens like 0.25") from None
            if not 0.0 <= r <= 1.0:
                raise EvalkitError(f"--ratios value {v} must be between 0 and 1 (a share of big-model tokens)")
            out.append(Policy(name, r, exact))  # type: ignore[arg-type]
    unique = list(dict.fromkeys(out))
    return tuple(unique)


def policy_from_label(label: str) -> Policy:
    m = re.fullmatch(r"(random|step)(-exact)?-([0-9.]+(?:e-?\d+)?)", label)
    if m:
        return Policy(m.group(1), float(m.group(3)), bool(m.group(2)))  # type: ignore[arg-type]
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
        # random-exact: where in its small/big pattern this sample starts (uniform, so no stopping point is favoured)
        offset_rng = random.Random(derive_seed(ctx.seed, *job.group, policy.label, "offset"))
        self._phase = offset_rng.random()  # random-exact: position in the small/big cycle, advanced per token
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
        self._step_open = False  # step: whether a step is under way (its model chosen)
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

    def _cycle(self) -> float:
        """random-exact: tokens per big + small cycle: `span`, or longer where the minority model's share of a span
        would be under two tokens (at ratio 0.1 a span of 8 holds 0.8 big tokens, which whole tokens cannot hold)."""
        r = self.policy.ratio or 0.0
        return max(float(self.ctx.span), 2.0 / min(r, 1.0 - r)) if 0.0 < r < 1.0 else float(self.ctx.span)

    def _exact_run(self) -> tuple[Role, int]:
        """random-exact: the model for the next run and its length. Runs follow a cycle of one big and one small run
        (`span` tokens together); the sample's position in the cycle advances by tokens / span from a per-sample
        random offset, and is big while below the ratio. Any window of n tokens then holds ratio x n big ones to
        within ratio x (1 - ratio) x span, and exactly that on average over the offset, so an early stop (EOS,
        `</think>`) favours neither model. Near the end of what the sample may still write (the rest of
        this phase's cap, plus the solution budget while thinking) runs are trimmed to what each model is still
        owed, so a sample that writes to its caps lands on the ratio to a token."""
        r = self.policy.ratio or 0.0
        done = len(self.thinking) + len(self.solution)
        big = sum(s.length for s in self.segments if s.model == "big")
        left = (self.cap - len(self.phase_ids)) + (self.ctx.solution_budget if self.phase == "thinking" else 0)
        owed_big = max(0, round(r * (done + left) - big))
        owed_small = max(0, left - owed_big)
        if r <= 0.0 or r >= 1.0:
            return ("big" if r >= 1.0 else "small"), max(1, left)
        period = self._cycle()
        x = self._phase % 1.0
        role: Role = "big" if x < r else "small"
        run = math.ceil(((r - x) if role == "big" else (1.0 - x)) * period)
        run = min(run, owed_big if role == "big" else owed_small)
        if run <= 0:  # this model has written its share of the sample's maximum: the other takes the rest
            role = "small" if role == "big" else "big"
            run = owed_small if role == "small" else owed_big
        return role, max(1, run)

    def _step_role(self) -> Role:
        """step: the model for the step about to start."""
        r = self.policy.ratio or 0.0
        if self.policy.exact:
            done = len(self.thinking) + len(self.solution)
            big = sum(s.length for s in self.segments if s.model == "big")
            if done == 0:
                return "big" if self._rng.random() < r else "small"
            return "big" if big < r * done else "small"
        return "big" if self._rng.random() < r else "small"

    # one step -------------------------------------------------------------------------------------------
    def request(self) -> tuple[Role, GenRequest]:
        pos = len(self.phase_ids)
        remaining = self.cap - pos
        stop_ids, stop_strings = _phase_stops_for(self.tok, self.phase == "thinking")
        kind = self.policy.kind
        if kind == "random" and self.policy.exact:
            self.role, run = self._exact_run()
            max_tokens = min(run, remaining)
        elif kind == "random":
            self.role, end = self._random_run(pos)
            max_tokens = end - pos
        elif kind == "step":
            if not self._step_open:
                self.role, self._step_open = self._step_role(), True
            max_tokens, stop_strings = remaining, stop_strings + (STEP_BREAK,)
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
        r = self.policy.ratio or 0.0
        if self.policy.kind == "random" and 0.0 < r < 1.0:
            self._phase += len(ids) / self._cycle()
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
            if self.policy.kind == "step" and hit == STEP_BREAK:
                self._step_open = False  # the step is done: the next request chooses a model for the next one
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
        # a hand-off is the small model passing the sequence to the big one (SplitReason's offload count)
        handoffs = sum(1 for a, b in zip(self.segments, self.segments[1:]) if a.model == "small" and b.model == "big")
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
                "switches": switches, "handoffs": handoffs, "engine_calls": self.calls,
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

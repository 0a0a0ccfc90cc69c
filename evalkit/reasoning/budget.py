"""Elastic budgets (Elastic Reasoning, arXiv 2505.05315): a thinking budget t, then `</think>`, then a solution
budget s.

Phase 1 generates at most t tokens and stops at `</think>`; if t ran out, evalkit appends exactly the tokenizer's
encoding of `</think>` and marks the sample forced. Phase 2 generates at most s tokens.

Shared thinking, evalkit's speed trick: nothing in the prompt depends on t, so the thinking under budget t is the
first t tokens of one pass to the largest budget (or the model's own `</think>`/EOS if that came first). One
phase-1 pass per problem x sample, cut at every budget, then every budget's solution phase in one batch (prefix
caching shares the common prefix). `share_thinking=False` runs every budget from scratch for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from evalkit.config import budget_label, budget_order
from evalkit.engines.base import THINK_CLOSE, ChatTokenizer, Engine
from evalkit.errors import EvalkitError
from evalkit.reasoning.jobs import Job, derive_seed
from evalkit.types import Finish, GenRequest, GenResult, Generation, Sampling

Progress = Callable[[str, int, int], None]  # (phase, sequences done in this call, tokens generated)


@dataclass(frozen=True)
class ThinkingPass:
    """One phase-1 generation, capped at `max_tokens`."""

    ids: tuple[int, ...]
    finish: Finish
    max_tokens: int

    def serves(self, cap: int) -> bool:
        """Can the thinking under cap be cut from this pass? Yes if the pass went at least that far, or the
        model ended thinking on its own before its cap."""
        return cap <= self.max_tokens or self.finish != "length"


@dataclass(frozen=True)
class Thinking:
    ids: tuple[int, ...]  # what the model wrote (<= cap tokens)
    finish: Finish
    forced: bool
    appended: tuple[int, ...]  # `</think>` tokens evalkit added (budget ran out, or the model stopped with EOS)


def cut(p: ThinkingPass, cap: int, close_ids: tuple[int, ...]) -> Thinking:
    """The thinking a from-scratch run with max_tokens=cap would have produced."""
    if p.finish != "length" and len(p.ids) <= cap:
        # Closed by the model. After EOS the model never wrote `</think>`: add it so the solution phase can run.
        return Thinking(p.ids, p.finish, False, close_ids if p.finish == "eos" else ())
    return Thinking(p.ids[:cap], "length", True, close_ids)


@dataclass
class BudgetContext:
    """Everything a budget controller needs besides the engine and the jobs."""

    solution_budget: int
    sampling: Sampling
    seed: int
    share_thinking: bool = True
    strategy: str = "elastic"
    passes: dict[tuple[str, str, int], ThinkingPass] = field(default_factory=dict)  # resume cache
    on_pass: Callable[[dict[str, Any]], None] | None = None  # saves a new shared pass the moment it exists
    close_text: str = THINK_CLOSE  # --close-text: appended at the cut (it ends in `</think>`)


def forced_close(tok: ChatTokenizer, ctx: BudgetContext) -> tuple[int, ...]:
    """The tokens evalkit appends at a cut: `</think>` as the tokenizer spells it, or the --close-text."""
    return tok.close_ids if ctx.close_text == THINK_CLOSE else tuple(tok.encode(ctx.close_text))


@dataclass
class BatchOutput:
    generations: list[Generation] = field(default_factory=list)
    thinking_rows: list[dict[str, Any]] = field(default_factory=list)  # new shared passes, for thinking.jsonl
    generated_tokens: int = 0


def room(engine: Engine, job: Job) -> int:
    return engine.max_model_len - len(job.prompt_ids)


def thinking_cap(engine: Engine, job: Job, budget: int | None, solution_budget: int, close_len: int | None = None) -> int:
    """Tokens phase 1 may use: the budget, clipped so that the close (`close_len` tokens; `</think>` by default)
    and the whole solution budget still fit."""
    close = len(engine.tokenizer.close_ids) if close_len is None else close_len
    limit = room(engine, job) - solution_budget - close
    if limit < 0:
        raise EvalkitError(
            f"{job.problem.benchmark}/{job.problem.id}: prompt of {len(job.prompt_ids)} tokens leaves no room for a "
            f"{solution_budget}-token solution: raise --max-model-len or lower --solution-budget"
        )
    return limit if budget is None else min(budget, limit)


def phase1_request(tok: ChatTokenizer, job: Job, cap: int, ctx: BudgetContext) -> GenRequest:
    stop_ids = tok.close_ids if tok.close_is_single_token else ()
    stop_strings = () if tok.close_is_single_token else (THINK_CLOSE,)
    return GenRequest(
        prompt_ids=job.prompt_ids, max_tokens=cap, sampling=ctx.sampling,
        seed=derive_seed(ctx.seed, *job.group, "thinking"), stop_ids=stop_ids, stop_strings=stop_strings,
    )


async def _run_phase1(engine: Engine, reqs: list[GenRequest], progress: Progress | None) -> list[ThinkingPass]:
    """Requests with max_tokens 0 (no room at all) are answered without asking the engine."""
    if not reqs:
        return []
    live = [r for r in reqs if r.max_tokens > 0]
    results = iter(await engine.agenerate(live) if live else [])
    out = []
    for r in reqs:
        res = next(results) if r.max_tokens > 0 else GenResult((), "", "length")
        out.append(ThinkingPass(res.token_ids, res.finish, r.max_tokens))
    if progress:
        progress("thinking", len(reqs), sum(len(p.ids) for p in out))
    return out


def solution_request(engine: Engine, job: Job, budget: int | None, context_ids: tuple[int, ...], ctx: BudgetContext) -> GenRequest:
    """Phase 2 from the prompt plus `context_ids` (the thinking and whatever evalkit appended), capped at s.
    The seed depends on the budget label, not the strategy: two strategies that reach the same context send the
    same request, and the multi-strategy driver answers it once."""
    context = len(job.prompt_ids) + len(context_ids)
    return GenRequest(
        prompt_ids=job.prompt_ids + context_ids,
        max_tokens=min(ctx.solution_budget, engine.max_model_len - context),
        sampling=ctx.sampling, seed=derive_seed(ctx.seed, *job.group, budget_label(budget), "solution"),
    )


def elastic_generation(
    tok: ChatTokenizer, job: Job, budget: int | None, cap: int, th: Thinking, req: GenRequest, res: GenResult,
    ctx: BudgetContext, strategy: str | None = None,
) -> Generation:
    """The Generation row of one elastic (job, budget): thinking `th`, then the solution `res`."""
    extra: dict[str, Any] = {"appended_tokens": len(th.appended), "prompt_tokens": len(job.prompt_ids),
                             "solution_allowance": req.max_tokens}
    if budget is not None and cap < budget:
        extra["clipped_to"] = cap  # the model's length limit cut this budget short
    return Generation(
        benchmark=job.problem.benchmark, problem_id=job.problem.id, sample=job.sample,
        strategy=strategy or ctx.strategy,
        budget=budget_label(budget), thinking_budget=budget, solution_budget=ctx.solution_budget,
        thinking_tokens=len(th.ids), solution_tokens=len(res.token_ids), forced=th.forced,
        thinking_finish=th.finish, solution_finish=res.finish,
        thinking_text=tok.decode(th.ids), solution_text=res.text, seed=req.seed,
        extra=extra,
    )


async def _finish_solutions(
    engine: Engine, items: list[tuple[Job, int | None, int, Thinking]], ctx: BudgetContext, out: BatchOutput,
    progress: Progress | None,
) -> None:
    """Phase 2 for every (job, budget) in one engine call, then build the Generation rows."""
    tok = engine.tokenizer
    reqs = [solution_request(engine, job, budget, th.ids + th.appended, ctx) for job, budget, cap, th in items]
    results = await engine.agenerate(reqs)
    for (job, budget, cap, th), req, res in zip(items, reqs, results):
        out.generations.append(elastic_generation(tok, job, budget, cap, th, req, res, ctx))
        out.generated_tokens += len(res.token_ids)
    if progress:
        progress("solution", len(items), sum(len(r.token_ids) for r in results))


async def ensure_passes(
    engine: Engine, needs: list[tuple[Job, list[int]]], ctx: BudgetContext, out: BatchOutput, progress: Progress | None,
) -> None:
    """Make ctx.passes hold, for every job, one thinking pass that serves all of its caps: one engine call for
    the jobs whose stored pass (if any) falls short, each to the largest cap it needs. New passes are added to
    `out.thinking_rows` so that they are saved and serve a resumed run."""
    need = [(j, caps) for j, caps in needs if not (j.group in ctx.passes and all(ctx.passes[j.group].serves(c) for c in caps))]
    reqs = [phase1_request(engine.tokenizer, j, max(caps), ctx) for j, caps in need]
    for (job, _), p in zip(need, await _run_phase1(engine, reqs, progress)):
        ctx.passes[job.group] = p
        out.generated_tokens += len(p.ids)
        row = {
            "benchmark": job.problem.benchmark, "problem_id": job.problem.id, "sample": job.sample,
            "max_tokens": p.max_tokens, "finish": p.finish, "token_ids": list(p.ids),
        }
        if ctx.on_pass is not None:
            ctx.on_pass(row)  # saved at once: a kill during the solution phase redoes nothing
        else:
            out.thinking_rows.append(row)


async def run_elastic(engine: Engine, jobs: list[Job], ctx: BudgetContext, progress: Progress | None = None) -> BatchOutput:
    out = BatchOutput()
    close = forced_close(engine.tokenizer, ctx)
    if ctx.share_thinking:
        # One pass per job, to the largest cap it still needs, unless a stored pass already serves it.
        caps = {job.group: [thinking_cap(engine, job, b, ctx.solution_budget, len(close)) for b in job.budgets] for job in jobs}
        await ensure_passes(engine, [(j, caps[j.group]) for j in jobs], ctx, out, progress)
        items = []
        for job in jobs:
            p = ctx.passes[job.group]
            for budget, cap in zip(job.budgets, caps[job.group]):
                items.append((job, budget, cap, cut(p, cap, close)))
        await _finish_solutions(engine, items, ctx, out, progress)
        return out
    # From scratch, budget by budget, the way the paper's scripts run: no pass is reused.
    points = sorted({b for j in jobs for b in j.budgets}, key=budget_order)
    for budget in points:
        todo = [j for j in jobs if budget in j.budgets]
        caps = [thinking_cap(engine, j, budget, ctx.solution_budget, len(close)) for j in todo]
        passes = await _run_phase1(engine, [phase1_request(engine.tokenizer, j, c, ctx) for j, c in zip(todo, caps)], progress)
        out.generated_tokens += sum(len(p.ids) for p in passes)
        await _finish_solutions(engine, [(j, budget, c, cut(p, c, close)) for j, c, p in zip(todo, caps, passes)], ctx, out, progress)
    return out


def passes_from_rows(rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], ThinkingPass]:
    """Rebuild the resume cache from thinking.jsonl, keeping for each group the pass that serves most."""
    best: dict[tuple[str, str, int], ThinkingPass] = {}
    for r in rows:
        key = (r["benchmark"], r["problem_id"], int(r["sample"]))
        p = ThinkingPass(tuple(r["token_ids"]), r["finish"], int(r["max_tokens"]))
        old = best.get(key)
        if old is None or (old.finish == "length" and (p.finish != "length" or p.max_tokens > old.max_tokens)):
            best[key] = p
    return best

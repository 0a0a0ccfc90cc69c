"""Budget strategies beside Elastic Reasoning's, and the driver that runs several of them over one batch of
problems, sharing every generation they have in common.

What the number in a budget label ("16", "1k") means, per strategy:

- `elastic` (evalkit.reasoning.budget): t = thinking tokens; at t evalkit appends `</think>`, then the solution
  gets its own s = --solution-budget tokens. Allowance: t + s.
- `truncate` (Elastic Reasoning's "vanilla budgeting"): B = total generated tokens, thinking and answer
  together. Nothing is appended: when B runs out, the output is whatever was written so far (`forced` then
  marks that the cap cut it). Rows carry B in `thinking_budget` and None in `solution_budget`. Allowance: B.
- `s1` (budget forcing, s1: Simple test-time scaling, arXiv 2501.19393): t = thinking tokens as they stand in
  the sequence, i.e. the model's thinking tokens plus the "Wait" tokens evalkit inserted. At t evalkit appends
  `</think>` and s1's cue "Final Answer:", then the solution gets s tokens. Before --min-thinking such tokens,
  a `</think>` the model writes (or an EOS) is removed and "Wait" appended, and thinking continues: one engine
  call per insertion round; `extra["waits"]` counts the insertions. "Wait" is inserted only while it and at
  least one more token still fit under t; otherwise the model's own ending stands. Allowance: t + s.
- `prompt` / `prompt-max` (L1, arXiv 2503.04697): N is written into the prompt, "Think for N tokens." (L1-Exact)
  or "Think for maximum N tokens." (L1-Max); the whole output is capped at --prompt-cap x N tokens (default
  2 x N). Rows carry N in `thinking_budget`. Allowance: N, so output past the instruction counts as over budget.

`unconstrained` means that only the model's context limits the cap (prompt strategies then add no instruction).

Token accounting: `thinking_tokens + solution_tokens` are the tokens the model generated and that stay in the
sequence. evalkit's insertions (`</think>`, the s1 cue, "Wait") and the `</think>`s s1 removed are never counted
there: `extra` holds them (appended_tokens, wait_tokens, suppressed_tokens). Budget adherence in summary.csv
compares `thinking_tokens + solution_tokens` with the allowance above (`budget_tokens`). For truncate and prompt
the split is at the model's own `</think>`: thinking up to and including it, solution after it.

Grading (`graded_text`): elastic and s1 always close thinking, and are graded on the text after `</think>`.
truncate and prompt outputs are graded on the text after the model's `</think>` when it wrote one, and on
everything they wrote when it did not (cut off mid-thought, or ended by EOS): the paper's vanilla budgeting
grades whatever was written, and an unfinished thought is the only place such an output holds an answer. The
tentative answers inside a closed thinking are never graded.

Sharing (share_thinking on): elastic, truncate and s1 begin with the same request (the chat prompt, the phase-1
seed, stop at `</think>`), so one thinking pass per problem x sample, to the largest cap any of them needs,
serves all three. elastic cuts it at t. truncate cuts it at B and, where the model closed thinking after k < B
tokens, continues from it once, to the largest B, and cuts that continuation at B - k (its seed does not depend
on B). s1 uses the pass as its first round and builds its "Wait" rounds once, to its largest t, cutting them at
every smaller t (a round's seed depends only on its index). Solution requests that come out identical for
elastic and s1 (no insertion, the model's own `</think>`) are generated once. Prompt strategies change the prompt
with N and share nothing. share_thinking off runs every strategy x budget from scratch with the same seeds, so
on a deterministic engine both modes write the same rows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from evalkit.config import DEFAULT_PROMPT_CAP, budget_label, budget_order
from evalkit.engines.base import THINK_CLOSE, ChatTokenizer, Engine
from evalkit.errors import EvalkitError
from evalkit.reasoning.budget import (
    BatchOutput,
    BudgetContext,
    Progress,
    Thinking,
    ThinkingPass,
    _run_phase1,
    cut,
    elastic_generation,
    ensure_passes,
    forced_close,
    phase1_request,
    run_elastic,
    solution_request,
    thinking_cap,
)
from evalkit.reasoning.jobs import Job, derive_seed
from evalkit.reasoning.native import run_native
from evalkit.types import Finish, GenRequest, GenResult, Generation

WAIT = "Wait"
FINAL_ANSWER_CUE = "\nFinal Answer:"  # after `</think>`: s1's answer cue
PROMPT_INSTRUCTIONS = {"prompt": " Think for {n} tokens.", "prompt-max": " Think for maximum {n} tokens."}
TOTAL_STRATEGIES = ("truncate", "prompt", "prompt-max")  # one cap on the whole output
THINKING_STRATEGIES = ("elastic", "s1", "native")  # a thinking budget t plus a solution budget s


@dataclass(frozen=True)
class StrategyOptions:
    """Settings of the non-elastic strategies, and what prompt strategies need to rebuild a chat prompt."""

    min_thinking: int = 0
    prompt_cap: float = DEFAULT_PROMPT_CAP
    system_prompts: dict[str, str | None] = field(default_factory=dict)  # benchmark -> system prompt


# --- reading rows -------------------------------------------------------------------------------------------


def graded_text(gen: Generation) -> str:
    """The text the grader reads (see the module docstring)."""
    if gen.strategy in TOTAL_STRATEGIES and gen.thinking_finish != "stop":
        return gen.thinking_text + gen.solution_text
    return gen.solution_text


def budget_tokens(gen: Generation) -> int | None:
    """The allowance a row's budget label stands for, in generated tokens; None when it sets none."""
    if gen.thinking_budget is None:
        return None
    if gen.strategy in TOTAL_STRATEGIES:
        return gen.thinking_budget
    if gen.strategy in THINKING_STRATEGIES:
        return gen.thinking_budget + (gen.solution_budget or 0)
    return None  # other controllers (offload ratios ...) set no token budget


# --- s1 -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S1Thinking:
    seq: tuple[int, ...]  # the thinking as the solution phase sees it: model tokens and inserted "Wait"s
    model_tokens: int  # of seq, written by the model
    waits: int
    wait_tokens: int
    suppressed_tokens: int  # `</think>` tokens the model wrote before --min-thinking, removed
    finish: Finish  # of the last round
    forced: bool  # t ran out: `</think>` + cue appended
    appended: tuple[int, ...]


def strip_close(tok: ChatTokenizer, ids: tuple[int, ...]) -> tuple[int, ...]:
    """`ids` without the `</think>` it ends with. A close the model spelled in other tokens than the canonical
    encoding is removed token by token until no part of `</think>` shows at the end of the text."""
    close = tok.close_ids
    if ids[-len(close):] == close:
        return ids[: -len(close)]
    n = len(ids)
    while n > 0:
        text = tok.decode(ids[:n])
        if THINK_CLOSE not in text and not any(text.endswith(THINK_CLOSE[:i]) for i in range(1, len(THINK_CLOSE))):
            break
        n -= 1
    return ids[:n]


def s1_thinking(
    tok: ChatTokenizer, rounds: list[ThinkingPass], cap: int, min_thinking: int, cue: tuple[int, ...],
    forced: tuple[int, ...] | None = None,
) -> tuple[S1Thinking | None, tuple[int, ...]]:
    """Replay budget forcing under cap t over recorded rounds. Returns the thinking, or (None, seq) when one more
    round is needed: a continuation from prompt + seq with max_tokens t - len(seq).

    Round i of a from-scratch run under t is asked for t - len(seq) tokens; rounds recorded under a larger cap
    went at least as far, so cutting them gives what the from-scratch run would have produced."""
    wait = tuple(tok.encode(WAIT))
    close = tok.close_ids if forced is None else forced  # appended at the cut (--close-text)
    seq: tuple[int, ...] = ()
    model = waits = suppressed = 0
    for r in rounds:
        th = cut(r, cap - len(seq), close)
        if th.forced:
            seq += th.ids
            return S1Thinking(seq, model + len(th.ids), waits, waits * len(wait), suppressed, "length", True,
                              close + cue), seq
        body = strip_close(tok, th.ids) if th.finish == "stop" else th.ids
        if len(seq) + len(body) < min_thinking and len(seq) + len(body) + len(wait) < cap:
            seq += body + wait
            model += len(body)
            waits += 1
            suppressed += len(th.ids) - len(body)
            continue
        seq += th.ids  # long enough (or no room for another "Wait"): the model's own ending stands
        return S1Thinking(seq, model + len(th.ids), waits, waits * len(wait), suppressed, th.finish, False,
                          th.appended), seq
    return None, seq


async def _s1_rounds(
    engine: Engine, items: list[tuple[Job, int]], ctx: BudgetContext, options: StrategyOptions, cue: tuple[int, ...],
    out: BatchOutput, progress: Progress | None,
) -> dict[tuple[str, str, int], list[ThinkingPass]]:
    """Rounds of every job up to its largest cap; round 0 is the shared thinking pass. One engine call per round."""
    tok = engine.tokenizer
    rounds = {job.group: [ctx.passes[job.group]] for job, _ in items}
    while True:
        pending = []
        for job, cap in items:
            done, seq = s1_thinking(tok, rounds[job.group], cap, options.min_thinking, cue, forced_close(tok, ctx))
            if done is None:
                pending.append((job, cap, seq))
        if not pending:
            return rounds
        reqs = [
            replace(phase1_request(tok, replace(job, prompt_ids=job.prompt_ids + seq), cap - len(seq), ctx),
                    seed=derive_seed(ctx.seed, *job.group, "s1-wait", len(rounds[job.group])))
            for job, cap, seq in pending
        ]
        results = await engine.agenerate(reqs)
        for (job, _, _), req, res in zip(pending, reqs, results):
            rounds[job.group].append(ThinkingPass(res.token_ids, res.finish, req.max_tokens))
        toks = sum(len(r.token_ids) for r in results)
        out.generated_tokens += toks
        if progress:
            progress("s1 wait", 0, toks)


def s1_generation(
    tok: ChatTokenizer, job: Job, budget: int | None, cap: int, st: S1Thinking, req: GenRequest, res: GenResult,
    ctx: BudgetContext, options: StrategyOptions,
) -> Generation:
    extra: dict[str, Any] = {
        "appended_tokens": len(st.appended), "prompt_tokens": len(job.prompt_ids), "waits": st.waits,
        "wait_tokens": st.wait_tokens, "suppressed_tokens": st.suppressed_tokens, "min_thinking": options.min_thinking,
        "solution_allowance": req.max_tokens,
    }
    if budget is not None and cap < budget:
        extra["clipped_to"] = cap
    return Generation(
        benchmark=job.problem.benchmark, problem_id=job.problem.id, sample=job.sample, strategy="s1",
        budget=budget_label(budget), thinking_budget=budget, solution_budget=ctx.solution_budget,
        thinking_tokens=st.model_tokens, solution_tokens=len(res.token_ids), forced=st.forced,
        thinking_finish=st.finish, solution_finish=res.finish,
        thinking_text=tok.decode(st.seq), solution_text=res.text, seed=req.seed, extra=extra,
    )


# --- truncate and prompt: one cap on the whole output --------------------------------------------------------


def total_cap(engine: Engine, job: Job, budget: int | None, prompt_ids: tuple[int, ...] | None = None) -> int:
    """Tokens the whole output may use: the cap, clipped to the model's context."""
    prompt = job.prompt_ids if prompt_ids is None else prompt_ids
    limit = engine.max_model_len - len(prompt)
    if limit < 1:
        raise EvalkitError(
            f"{job.problem.benchmark}/{job.problem.id}: prompt of {len(prompt)} tokens fills the model's context: "
            "raise --max-model-len"
        )
    return limit if budget is None else min(budget, limit)


@dataclass(frozen=True)
class _Total:
    """One truncate/prompt (job, budget): its thinking cut at the cap, and the continuation after `</think>`."""

    strategy: str
    job: Job
    budget: int | None
    cap: int
    prompt_ids: tuple[int, ...]
    th: Thinking
    seed: int  # of its thinking pass
    cont: GenRequest | None  # None: nothing may follow (cut in thinking, EOS, or the cap reached at `</think>`)
    extra: dict[str, Any]


def _continuation(job: Job, prompt_ids: tuple[int, ...], th: Thinking, cap: int, ctx: BudgetContext, *seed_parts: object) -> GenRequest | None:
    if th.forced or th.finish != "stop" or len(th.ids) >= cap:
        return None
    return GenRequest(prompt_ids=prompt_ids + th.ids, max_tokens=cap - len(th.ids), sampling=ctx.sampling,
                      seed=derive_seed(ctx.seed, *job.group, *seed_parts))


def total_generation(tok: ChatTokenizer, t: _Total, cont: GenResult | None, ctx: BudgetContext) -> Generation:
    th = t.th
    sol: tuple[int, ...] = ()
    if th.forced or th.finish == "eos":
        sol_finish: Finish = th.finish  # nothing after the thinking: cut by the cap, or the model stopped
        forced = th.forced
    else:
        left = t.cap - len(th.ids)
        sol = cont.token_ids[:left] if cont is not None else ()
        # An output that filled the cap was cut by it: a from-scratch run would report "length" there too.
        sol_finish = "length" if left == 0 or len(sol) >= left else (cont.finish if cont is not None else "length")
        forced = sol_finish == "length"
    extra = {"appended_tokens": 0, "prompt_tokens": len(t.prompt_ids), "cap": t.cap, **t.extra}
    if t.budget is not None and t.strategy == "truncate" and t.cap < t.budget:
        extra["clipped_to"] = t.cap
    return Generation(
        benchmark=t.job.problem.benchmark, problem_id=t.job.problem.id, sample=t.job.sample, strategy=t.strategy,
        budget=budget_label(t.budget), thinking_budget=t.budget, solution_budget=None,
        thinking_tokens=len(th.ids), solution_tokens=len(sol), forced=forced,
        thinking_finish=th.finish, solution_finish=sol_finish,
        thinking_text=tok.decode(th.ids), solution_text=tok.decode(sol), seed=t.seed, extra=extra,
    )


def prompt_text(strategy: str, problem_prompt: str, budget: int | None) -> str:
    """The user message of an L1-style prompt strategy: the problem, then "Think for N tokens." (or maximum)."""
    return problem_prompt if budget is None else problem_prompt + PROMPT_INSTRUCTIONS[strategy].format(n=budget)


def prompt_cap(engine: Engine, job: Job, budget: int | None, prompt_ids: tuple[int, ...], factor: float) -> int:
    return total_cap(engine, job, None if budget is None else max(1, int(factor * budget)), prompt_ids)


# --- the driver -------------------------------------------------------------------------------------------


async def generate_unique(engine: Engine, reqs: list[GenRequest]) -> tuple[list[GenResult], int]:
    """Answer requests with one engine call, generating each distinct request once; requests with no room get an
    empty result without asking the engine. Returns the results and the tokens actually generated."""
    distinct = list(dict.fromkeys(r for r in reqs if r.max_tokens > 0))
    answers = dict(zip(distinct, await engine.agenerate(distinct) if distinct else []))
    empty = GenResult((), "", "length")
    return [answers.get(r, empty) for r in reqs], sum(len(a.token_ids) for a in answers.values())


async def run_strategies(
    engine: Engine, work: dict[str, list[Job]], ctx: BudgetContext, options: StrategyOptions | None = None,
    progress: Progress | None = None,
) -> BatchOutput:
    """Generate every (job, budget) of every strategy in `work` (strategy -> jobs with the budgets it lacks)."""
    options = options or StrategyOptions()
    work = {s: js for s, js in work.items() if js}
    unknown = set(work) - {"elastic", "s1", "native", *TOTAL_STRATEGIES}
    if unknown:
        raise EvalkitError(f"unknown strategy {sorted(unknown)[0]!r}: use elastic, truncate, s1, prompt, prompt-max or native")
    native_jobs = work.pop("native", [])
    if not native_jobs:
        return await _run_budgeted(engine, work, ctx, options, progress)
    # native shares nothing (the engine forces its own cut): its requests go out beside the others'.
    native = run_native(engine, native_jobs, ctx, forced_close(engine.tokenizer, ctx))
    if work:
        out, rows = await asyncio.gather(_run_budgeted(engine, work, ctx, options, progress), native)
    else:
        out, rows = BatchOutput(), await native
    out.generations += rows
    out.generated_tokens += sum(g.thinking_tokens + g.extra["appended_tokens"] + g.solution_tokens for g in rows)
    return out


async def _run_budgeted(
    engine: Engine, work: dict[str, list[Job]], ctx: BudgetContext, options: StrategyOptions, progress: Progress | None,
) -> BatchOutput:
    if set(work) <= {"elastic"}:
        # Elastic alone is exactly the elastic controller, engine calls included.
        return await run_elastic(engine, work.get("elastic", []), replace(ctx, strategy="elastic"), progress)
    if ctx.share_thinking:
        return await _run_shared(engine, work, ctx, options, progress)
    # From scratch: every strategy x budget on its own, with no pass reused, the way the papers' scripts run.
    out = BatchOutput()
    for strategy, jobs in work.items():
        if strategy == "elastic":
            _merge(out, await run_elastic(engine, jobs, replace(ctx, strategy="elastic"), progress))
            continue
        points = sorted({b for j in jobs for b in j.budgets}, key=budget_order)
        for budget in points:
            sub = [replace(j, budgets=(budget,)) for j in jobs if budget in j.budgets]
            part = await _run_shared(engine, {strategy: sub}, replace(ctx, passes={}, on_pass=None), options, progress)
            part.thinking_rows = []  # a from-scratch pass serves nothing later
            _merge(out, part)
    return out


def _merge(out: BatchOutput, part: BatchOutput) -> None:
    out.generations += part.generations
    out.thinking_rows += part.thinking_rows
    out.generated_tokens += part.generated_tokens


async def _run_shared(
    engine: Engine, work: dict[str, list[Job]], ctx: BudgetContext, options: StrategyOptions, progress: Progress | None,
) -> BatchOutput:
    out = BatchOutput()
    tok = engine.tokenizer
    close = forced_close(tok, ctx)
    cue = tuple(tok.encode(FINAL_ANSWER_CUE))
    caps: dict[str, dict[tuple, list[int]]] = {
        "elastic": {j.group: [thinking_cap(engine, j, b, ctx.solution_budget, len(close)) for b in j.budgets]
                    for j in work.get("elastic", [])},
        # s1 appends the cue after `</think>`: leave room for it as well as for the solution.
        "s1": {j.group: [thinking_cap(engine, j, b, ctx.solution_budget + len(cue), len(close)) for b in j.budgets]
               for j in work.get("s1", [])},
        "truncate": {j.group: [total_cap(engine, j, b) for b in j.budgets] for j in work.get("truncate", [])},
    }

    # 1. One thinking pass per problem x sample serving elastic, s1 and truncate.
    needs: dict[tuple, tuple[Job, list[int]]] = {}
    for strategy in ("elastic", "s1", "truncate"):
        for job in work.get(strategy, []):
            prev = needs.get(job.group, (job, []))
            needs[job.group] = (prev[0], prev[1] + caps[strategy][job.group])
    await ensure_passes(engine, list(needs.values()), ctx, out, progress)

    # 2. Prompt strategies: their own first pass (the prompt depends on N); s1's "Wait" rounds.
    totals: list[_Total] = []
    prompt_items = []
    for strategy in ("prompt", "prompt-max"):
        for job in work.get(strategy, []):
            system = options.system_prompts.get(job.problem.benchmark)
            for b in job.budgets:
                ids = tuple(tok.chat_prompt_ids(prompt_text(strategy, job.problem.prompt, b), system))
                cap = prompt_cap(engine, job, b, ids, options.prompt_cap)
                seed = derive_seed(ctx.seed, *job.group, strategy, budget_label(b), "thinking")
                req = replace(phase1_request(tok, replace(job, prompt_ids=ids), cap, ctx), seed=seed)
                prompt_items.append((strategy, job, b, cap, ids, req))
    if prompt_items:
        passes = await _run_phase1(engine, [it[-1] for it in prompt_items], progress)
        for (strategy, job, b, cap, ids, req), p in zip(prompt_items, passes):
            out.generated_tokens += len(p.ids)
            th = cut(p, cap, close)
            cont = _continuation(job, ids, th, cap, ctx, strategy, budget_label(b), "continue")
            totals.append(_Total(strategy, job, b, cap, ids, th, req.seed, cont,
                                 {"instruction": PROMPT_INSTRUCTIONS[strategy].strip().format(n=b) if b else ""}))
    s1_jobs = work.get("s1", [])
    rounds = await _s1_rounds(engine, [(j, max(caps["s1"][j.group])) for j in s1_jobs], ctx, options, cue, out, progress) if s1_jobs else {}

    # 3. truncate: the shared pass cut at B; one continuation per job after a `</think>` the model wrote.
    for job in work.get("truncate", []):
        p = ctx.passes[job.group]
        longest = max(caps["truncate"][job.group])
        shared_cont = _continuation(job, job.prompt_ids, cut(p, longest, close), longest, ctx, "continue")
        seed = derive_seed(ctx.seed, *job.group, "thinking")
        for b, cap in zip(job.budgets, caps["truncate"][job.group]):
            th = cut(p, cap, close)
            cont = shared_cont if _continuation(job, job.prompt_ids, th, cap, ctx, "continue") is not None else None
            totals.append(_Total("truncate", job, b, cap, job.prompt_ids, th, seed, cont, {}))

    # 4. Everything that continues past `</think>`, in one engine call: elastic and s1 solutions (identical
    # requests once), truncate and prompt continuations.
    solutions: list[tuple[str, Job, int | None, int, Any, GenRequest]] = []
    for job in work.get("elastic", []):
        for b, cap in zip(job.budgets, caps["elastic"][job.group]):
            th = cut(ctx.passes[job.group], cap, close)
            solutions.append(("elastic", job, b, cap, th, solution_request(engine, job, b, th.ids + th.appended, ctx)))
    for job in s1_jobs:
        for b, cap in zip(job.budgets, caps["s1"][job.group]):
            st, _ = s1_thinking(tok, rounds[job.group], cap, options.min_thinking, cue, close)
            assert st is not None  # rounds were built to the largest cap, which serves every smaller one
            solutions.append(("s1", job, b, cap, st, solution_request(engine, job, b, st.seq + st.appended, ctx)))
    reqs = [s[-1] for s in solutions] + [t.cont for t in totals if t.cont is not None]
    results, toks = await generate_unique(engine, reqs)
    out.generated_tokens += toks
    by_req = dict(zip(reqs, results))
    for strategy, job, b, cap, th, req in solutions:
        res = by_req[req]
        if strategy == "elastic":
            out.generations.append(elastic_generation(tok, job, b, cap, th, req, res, ctx, strategy="elastic"))
        else:
            out.generations.append(s1_generation(tok, job, b, cap, th, req, res, ctx, options))
    for t in totals:
        out.generations.append(total_generation(tok, t, by_req[t.cont] if t.cont is not None else None, ctx))
    if progress:
        progress("solution", len(out.generations), toks)
    return out

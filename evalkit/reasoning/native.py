"""`native`: the engine's own thinking budget. One request per (problem x sample, budget t); the engine forces the
close text once thinking reaches t and the model answers in the same request.

What engines offer it: in-process vLLM (`reasoning_parser` + `SamplingParams(thinking_token_budget=...)`), vLLM
servers (`thinking_token_budget`, server started with --reasoning-parser), SGLang servers (`custom_params`), and
the hf engine (the same forcing in evalkit's decode loop). vLLM counts thinking tokens from the last `<think>`,
prompt tokens included: DeepSeek-R1-Distill's prompt ends in "<think>\\n", so a budget of t sent as is would give
the model t - 1 tokens. evalkit sends t + (prompt tokens after `<think>`), so t means what it means for elastic:
tokens the model thinks.

max_tokens = t + the close + s, so a sample that thinks to t gets exactly s tokens of solution, and one that
closes thinking itself after k < t tokens gets the rest (t - k + s). Unlike elastic, that room is one request:
nothing is re-prefilled, and thinking shares no pass with other strategies (engine-side forcing cannot be cut).

Rows record evalkit's own reading of the output, not the engine's word: `thinking_tokens` (the model's, the
forced close excluded), `extra.close_at` (output position where the close began; None if it never came),
`extra.engine_forced` (the close came at t with the forced text), `extra.solution_allowance` (tokens the answer
really had), `extra.over_budget` (thinking went past t: the engine ignored the budget).

`probe_native` runs before a sweep: a tiny budget on a few prompts. An engine that ignores the budget, or forces
another text than --close-text, stops the run with one line naming the setting to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalkit.config import budget_label
from evalkit.engines.base import THINK_OPEN, ChatTokenizer, Engine
from evalkit.errors import EvalkitError
from evalkit.reasoning.budget import BudgetContext, thinking_cap
from evalkit.reasoning.jobs import Job, derive_seed
from evalkit.types import Finish, GenRequest, GenResult, Generation, Sampling

PROBE_BUDGET = 4
PROBE_PROMPTS = 3


def prompt_tail(tok: ChatTokenizer, prompt_ids: tuple[int, ...]) -> int:
    """Prompt tokens after the last `<think>`: what vLLM already counts as thinking (0 when thinking is not open)."""
    open_ids = tuple(tok.encode(THINK_OPEN))
    n = len(open_ids)
    for i in range(len(prompt_ids) - n, -1, -1):
        if prompt_ids[i:i + n] == open_ids:
            return len(prompt_ids) - i - n
    return 0


def native_request(engine: Engine, job: Job, budget: int | None, close: tuple[int, ...], ctx: BudgetContext) -> tuple[GenRequest, int]:
    """(request, t as clipped to the context). The seed is the elastic thinking pass's: on a deterministic engine
    native and elastic think the same tokens, and differ only in what comes after the cut."""
    tok = engine.tokenizer
    cap = thinking_cap(engine, job, budget, ctx.solution_budget, len(close))
    room = engine.max_model_len - len(job.prompt_ids)
    return GenRequest(
        prompt_ids=job.prompt_ids, max_tokens=min(room, cap + len(close) + ctx.solution_budget), sampling=ctx.sampling,
        seed=derive_seed(ctx.seed, *job.group, "thinking"),
        thinking_budget=None if budget is None else cap + prompt_tail(tok, job.prompt_ids), forced_close=close,
    ), cap


@dataclass(frozen=True)
class NativeSplit:
    """evalkit's reading of one native output."""

    thinking: tuple[int, ...]  # the model's thinking (its own `</think>` included, a forced close not)
    appended: tuple[int, ...]  # the close the engine forced
    solution: tuple[int, ...]
    close_at: int | None  # output position where the close began
    engine_forced: bool
    over_budget: bool


def split_native(tok: ChatTokenizer, ids: tuple[int, ...], cap: int | None, close: tuple[int, ...]) -> NativeSplit:
    """Find where thinking ended. The forced close is recognised where the budget puts it (position cap); any other
    `</think>` is the model's own. A close after cap, or none with more than cap tokens, is over budget."""
    if cap is not None and ids[cap:cap + len(close)] == close:
        return NativeSplit(ids[:cap], close, ids[cap + len(close):], cap, True, False)
    end = tok.close_ids
    k = next((i for i in range(len(ids) - len(end) + 1) if ids[i:i + len(end)] == end), None)
    if k is None:
        return NativeSplit(ids, (), (), None, False, cap is not None and len(ids) > cap)
    # The model's own close; a multi-token forced text that ends in `</think>` but came elsewhere counts as its own.
    return NativeSplit(ids[:k + len(end)], (), ids[k + len(end):], k, False, cap is not None and k > cap)


def native_generation(tok: ChatTokenizer, job: Job, budget: int | None, cap: int, req: GenRequest, res: GenResult,
                      ctx: BudgetContext) -> Generation:
    sp = split_native(tok, res.token_ids, None if budget is None else cap, req.forced_close)
    closed = sp.close_at is not None
    thinking_finish: Finish = "length" if sp.engine_forced else ("stop" if closed else res.finish)
    extra: dict[str, Any] = {
        "appended_tokens": len(sp.appended), "prompt_tokens": len(job.prompt_ids), "close_at": sp.close_at,
        "engine_forced": sp.engine_forced, "over_budget": sp.over_budget, "engine_budget": req.thinking_budget,
        "max_tokens": req.max_tokens,
        "solution_allowance": req.max_tokens - len(sp.thinking) - len(sp.appended) if closed else 0,
    }
    if budget is not None and cap < budget:
        extra["clipped_to"] = cap
    return Generation(
        benchmark=job.problem.benchmark, problem_id=job.problem.id, sample=job.sample, strategy="native",
        budget=budget_label(budget), thinking_budget=budget, solution_budget=ctx.solution_budget,
        thinking_tokens=len(sp.thinking), solution_tokens=len(sp.solution), forced=sp.engine_forced,
        thinking_finish=thinking_finish, solution_finish=res.finish if closed else "length",
        thinking_text=tok.decode(sp.thinking), solution_text=tok.decode(sp.solution), seed=req.seed, extra=extra,
    )


async def run_native(engine: Engine, jobs: list[Job], ctx: BudgetContext, close: tuple[int, ...]) -> list[Generation]:
    """Every (job, budget): one request each, all in flight at once."""
    items = [(job, b, *native_request(engine, job, b, close, ctx)) for job in jobs for b in job.budgets]
    results = await engine.agenerate([req for _, _, req, _ in items])
    return [native_generation(engine.tokenizer, job, b, cap, req, res, ctx)
            for (job, b, req, cap), res in zip(items, results)]


def budget_fix(identity: dict[str, Any]) -> str:
    """The engine setting that makes the engine honour a thinking budget, in words."""
    kind = identity.get("engine")
    if kind == "openai":
        return ("start each vLLM server with --reasoning-parser deepseek_r1 (SGLang: --reasoning-parser deepseek-r1 "
                "--enable-custom-logit-processor)")
    if kind == "vllm":
        return "pass --reasoning-parser deepseek_r1 (the vllm engine's reasoning parser)"
    return "use --engine vllm, openai or hf, which force a thinking budget"


def probe_native(engine: Any, prompts: list[tuple[int, ...]], close: tuple[int, ...], close_text: str) -> None:
    """A tiny budget on a few prompts: raise EvalkitError (one line naming the fix) unless the engine forced the
    close text at the budget, or the model closed thinking itself before it."""
    tok = engine.tokenizer
    reqs = [GenRequest(prompt_ids=p, max_tokens=PROBE_BUDGET + len(close) + 2, sampling=Sampling(temperature=0.0, top_p=1.0), seed=i,
                       thinking_budget=PROBE_BUDGET + prompt_tail(tok, p), forced_close=close)
            for i, p in enumerate(prompts[:PROBE_PROMPTS])]
    identity = engine.identity()
    try:
        results = engine.generate(reqs)
    except EvalkitError as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise EvalkitError(f"--strategy native: the engine refused a thinking budget ({first}): {budget_fix(identity)}") from None
    for res in results:
        sp = split_native(tok, res.token_ids, PROBE_BUDGET, close)
        if sp.engine_forced or (sp.close_at is not None and sp.close_at < PROBE_BUDGET):
            continue
        if sp.close_at is None and res.finish == "eos" and len(res.token_ids) <= PROBE_BUDGET:
            continue  # the model ended before the budget: nothing to force
        at = res.token_ids[PROBE_BUDGET:PROBE_BUDGET + len(close) + 1]
        if tok.close_ids[0] in at or sp.close_at == PROBE_BUDGET:
            raise EvalkitError(
                f"--strategy native: the engine forced {tok.decode(at)!r} at the budget, not --close-text "
                f"{close_text!r}: start vLLM with --reasoning-config '{{\"reasoning_end_str\": {close_text!r}}}' "
                "or pass the engine's own text as --close-text"
            )
        raise EvalkitError(
            f"--strategy native: the engine ignored a thinking budget of {PROBE_BUDGET} tokens (thinking ran on "
            f"past it): {budget_fix(identity)}"
        )

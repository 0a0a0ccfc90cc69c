"""`evalkit sweep`: plan the missing (problem, sample, strategy, budget) keys and run one budget controller per
problem x sample through the streaming runner; summary and plots at the end.

Data flows one way into the run directory. Each group's rows are appended (fsync) the moment its controller
finishes, so a kill loses only requests in flight, and the same command picks up exactly the missing keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from evalkit.benchmarks import get_benchmark, register_spec_cards
from evalkit.config import SweepSpec, budget_label
from evalkit.engines.base import Engine
from evalkit.engines.factory import build_engine
from evalkit.engines.models import resolve_model
from evalkit.engines.streaming import streaming
from evalkit.grading.dispatch import code_isolation
from evalkit.reasoning.budget import BudgetContext, forced_close, passes_from_rows
from evalkit.reasoning.native import PROBE_BUDGET, PROBE_PROMPTS, probe_native
from evalkit.reasoning.jobs import Job
from evalkit.reasoning.strategies import StrategyOptions, run_strategies
from evalkit.run.enginelog import engine_output_to_log
from evalkit.run.grading import default_grade_workers
from evalkit.run.runner import Group, throttled
from evalkit.run.writer import RowWriter
from evalkit.run.session import RunSession, finalize, load_all_problems, record_problems, ungraded
from evalkit.runinfo import check_resumable, run_info
from evalkit.store import RUN_JSON, RunStore
from evalkit.types import Generation, Problem

__all__ = ["SweepResult", "run_sweep", "plan_missing", "missing_points", "finalize", "load_all_problems"]


@dataclass(frozen=True)
class SweepResult:
    run_dir: Path
    generated: int  # generations written by this invocation
    graded: int
    summary_rows: int
    plots: tuple[Path, ...]
    wall_seconds: float
    generated_tokens: int
    timing: dict[str, float] | None = None


def missing_points(
    spec: SweepSpec, problems: dict[str, list[Problem]], done: set[tuple], strategy: str | None = None,
) -> list[tuple[Problem, int, tuple[int | None, ...]]]:
    """(problem, sample, budgets not on disk) for one strategy (default: the spec's first)."""
    strategy = strategy or spec.strategy[0]
    return [(p, s, miss[strategy]) for p, s, miss in plan_missing(spec, problems, done) if strategy in miss]


def plan_missing(
    spec: SweepSpec, problems: dict[str, list[Problem]], done: set[tuple],
) -> list[tuple[Problem, int, dict[str, tuple[int | None, ...]]]]:
    """(problem, sample, {strategy: budgets not on disk}) for every problem x sample that lacks any point. One
    entry per problem x sample, so that the strategies of a group share its generation."""
    todo = []
    for name in spec.benchmarks:
        for p in problems[name]:
            for s in range(spec.samples):
                miss = {
                    st: m for st in spec.strategy
                    if (m := tuple(b for b in spec.budget_points if (name, p.id, s, st, budget_label(b)) not in done))
                }
                if miss:
                    todo.append((p, s, miss))
    return todo


def grade_workers(spec: Any) -> int:
    """--grade-workers, or every CPU this process may use less what an engine computing on them needs."""
    if spec.grade_workers:
        return spec.grade_workers
    from evalkit.engines.vllm import has_cuda

    return default_grade_workers(spec.engine.kind, spec.engine.kind in ("vllm", "hf") and not has_cuda())


def run_sweep(spec: SweepSpec, console: Console | None = None, engine: Engine | None = None,
              allow_unsandboxed: bool = False, engine_log: tuple[Console, ...] | None = None,
              settings: tuple[str, str] | None = None) -> SweepResult:
    """`settings`: (file name, text) written beside run.json once the run is accepted (the CLI's run.toml).
    `engine_log`: send the engine's output to <run>/engine.log while it runs; these consoles (and `console`)
    keep the terminal. None: the engine's output goes wherever this process's stdout/stderr go."""
    console = console or Console(stderr=True)
    t0 = time.monotonic()
    register_spec_cards(spec)  # the run's own benchmark cards, before any name is looked up
    # Before anything is written or started: code benchmarks need an isolated sandbox (or the user's explicit yes).
    isolation = code_isolation((get_benchmark(n).kind for n in spec.benchmarks), allow_unsandboxed)
    unsandboxed = isolation == "none"
    store = RunStore(spec.run_dir)
    previous = store.read_run() if store.path(RUN_JSON).exists() else None
    if previous is not None:
        check_resumable(previous, spec)
    problems, identities = load_all_problems(spec)
    store.open_for_append()
    record_problems(store, problems, identities)
    existing = store.generations()
    done = {g.key for g in existing}
    todo = plan_missing(spec, problems, done)
    store.write_run(run_info(spec, None, identities, previous, unsandboxed))
    if settings is not None:  # run.toml: the command's resolved settings, rerunnable with --config
        store.path(settings[0]).write_text(settings[1], encoding="utf-8")
    by_key = {(p.benchmark, p.id): p for ps in problems.values() for p in ps}
    total = sum(len(m) for _, _, miss in todo for m in miss.values())
    if existing:
        console.print(f"[cyan]resuming {spec.run_dir}: {len(done)} generations on disk, {total} to go[/]")
    leftovers = ungraded(store, by_key, existing)
    generated = tokens = 0
    timing: dict[str, float] | None = None
    own_engine = engine is None
    stream = None
    if todo and engine is None:  # a demo model is built before engine output goes to engine.log: say so here
        resolve_model(spec.engine.model, lambda m: console.print(f"[cyan]{m}[/]"))
    with engine_output_to_log(spec.run_dir, (console, *(engine_log or ())), verbose=engine_log is None):
        try:
            with RunSession(store, console, grade_workers(spec), spec.grade_timeout, total, isolation=isolation) as session:
                session.grade_leftovers(leftovers)  # a kill between writing and grading
                if todo:
                    if engine is None:
                        console.print(f"[cyan]starting engine {spec.engine.kind} for {spec.engine.model}[/]")
                        engine = build_engine(engine_spec(spec))
                    stream = streaming(engine)
                    if any("native" in miss for _, _, miss in todo):
                        check_native(spec, stream, todo, console)
                    store.write_run(run_info(spec, engine.identity(), identities, previous, unsandboxed))
                    (controller_engine,) = throttled([stream], spec.max_inflight)
                    groups = sweep_groups(spec, controller_engine, store, todo, session.writer())
                    outcome = session.run([stream], groups, spec.max_inflight)
                    generated, tokens = outcome.generated, outcome.tokens
                    timing = outcome.timing.to_json()
                graded = session.grading.done
        finally:
            if stream is not None and stream is not engine:
                stream.close_stream()
            if own_engine and engine is not None:
                engine.close()
    n_rows, plots = finalize(store, console, [p for ps in problems.values() for p in ps])
    return SweepResult(spec.run_dir, generated, graded, n_rows, plots, time.monotonic() - t0, tokens, timing)


def engine_spec(spec: SweepSpec):
    """The engine a sweep builds: with `native`, in-process vLLM gets a reasoning parser (deepseek_r1 unless
    --reasoning-parser names another) and forces the --close-text at the budget."""
    if "native" not in spec.strategy or spec.engine.kind != "vllm":
        return spec.engine
    return replace(spec.engine, reasoning_parser=spec.engine.reasoning_parser or "deepseek_r1",
                   reasoning_end=spec.close_text)


def check_native(spec: SweepSpec, engine: Any, todo: list, console: Console) -> None:
    """Before any native row: does the engine honour a thinking budget with our close text? (native.probe_native)"""
    system = {n: get_benchmark(n).system_prompt for n in spec.benchmarks}
    prompts = list(dict.fromkeys(tuple(engine.tokenizer.chat_prompt_ids(p.prompt, system[p.benchmark]))
                                 for p, _, _ in todo[:PROBE_PROMPTS * 4]))
    close = forced_close(engine.tokenizer, BudgetContext(0, spec.sampling, 0, close_text=spec.close_text))
    probe_native(engine, prompts, close, spec.close_text)
    console.print(f"[cyan]native: the engine forced {spec.close_text!r} at a {PROBE_BUDGET}-token thinking budget "
                  f"({min(len(prompts), PROBE_PROMPTS)} probe prompts)[/]")


def sweep_groups(spec: SweepSpec, engine: Any, store: RunStore,
                 todo: list[tuple[Problem, int, dict[str, tuple[int | None, ...]]]], writer: RowWriter) -> list[Group]:
    """One controller per problem x sample: every strategy's missing budgets, sharing one thinking pass."""
    ctx = BudgetContext(
        solution_budget=spec.solution_budget, sampling=spec.sampling, seed=spec.seed,
        share_thinking=spec.share_thinking,
        passes=passes_from_rows(store.thinking()) if spec.share_thinking else {},
        on_pass=writer.thinking, close_text=spec.close_text,
    )
    system = {n: get_benchmark(n).system_prompt for n in spec.benchmarks}
    options = StrategyOptions(spec.min_thinking, spec.prompt_cap, system)
    prompts: dict[tuple[str, str], tuple[int, ...]] = {}

    def group(p: Problem, s: int, miss: dict[str, tuple[int | None, ...]]) -> Group:
        async def run() -> list[Generation]:
            key = (p.benchmark, p.id)
            if key not in prompts:
                prompts[key] = tuple(engine.tokenizer.chat_prompt_ids(p.prompt, system[p.benchmark]))
            work = {st: [Job(p, prompts[key], s, budgets)] for st, budgets in miss.items()}
            out = await run_strategies(engine, work, ctx, options)
            ctx.passes.pop((p.benchmark, p.id, s), None)  # on disk already; memory stays bounded
            return out.generations

        return Group(p, sum(len(b) for b in miss.values()), run)

    return [group(p, s, miss) for p, s, miss in todo]

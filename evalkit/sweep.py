"""`evalkit sweep`: plan what is missing, drive the budget controller in batches, grade, summarise, plot.

Data flows one way into the run directory. Every batch appends and fsyncs its rows before the next starts, so a
kill loses at most the batch in flight, and the same command picks up exactly the missing keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evalkit.benchmarks import get_benchmark, load_problems
from evalkit.config import SweepSpec, budget_label
from evalkit.engines.base import Engine, build_engine
from evalkit.grading.dispatch import Grading, code_isolation
from evalkit.plots import plot_accuracy_vs_tokens, series_from_summary
from evalkit.reasoning.budget import BudgetContext, passes_from_rows
from evalkit.reasoning.jobs import Job, chunks
from evalkit.reasoning.strategies import StrategyOptions, run_strategies
from evalkit.runinfo import check_resumable, run_info
from evalkit.store import RUN_JSON, SUMMARY, RunStore
from evalkit.summary import read_summary, summarize, write_summary
from evalkit.types import Generation, GradeRecord, Problem


@dataclass(frozen=True)
class SweepResult:
    run_dir: Path
    generated: int  # generations written by this invocation
    graded: int
    summary_rows: int
    plots: tuple[Path, ...]
    wall_seconds: float
    generated_tokens: int


def load_all_problems(spec: SweepSpec) -> tuple[dict[str, list[Problem]], dict[str, Any]]:
    problems, identities = {}, {}
    for name in spec.benchmarks:
        get_benchmark(name)  # unknown names fail before any data is read
    for name in spec.benchmarks:
        probs, ident = load_problems(name, spec.data_dir, spec.limit, spec.prompts, spec.benchmark_options)
        problems[name], identities[name] = probs, ident
    return problems, identities


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
    entry per problem x sample, so that the strategies of a batch can share its generation."""
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


def grade_missing(store: RunStore, problems: dict[tuple[str, str], Problem], grading: Grading, gens: Sequence[Generation]) -> int:
    have = store.grades()
    todo = [(problems[(g.benchmark, g.problem_id)], g) for g in gens if g.key not in have and (g.benchmark, g.problem_id) in problems]
    if not todo:
        return 0
    verdicts = grading.grade(todo)
    return store.append_grades(GradeRecord.of(g, v) for (_, g), v in zip(todo, verdicts))


def finalize(store: RunStore, console: Console | None = None) -> tuple[int, tuple[Path, ...]]:
    """Write summary.csv and the plots from the files in the run directory."""
    rows = summarize(store.generations(), store.grades())
    write_summary(rows, store.path(SUMMARY))
    plots: tuple[Path, ...] = ()
    if rows:
        series = series_from_summary(read_summary(store.path(SUMMARY)), store.root.name, label_strategy=True)
        plots = tuple(plot_accuracy_vs_tokens(series, store.plots_dir))
    return len(rows), plots


def run_sweep(spec: SweepSpec, console: Console | None = None, engine: Engine | None = None,
              allow_unsandboxed: bool = False) -> SweepResult:
    console = console or Console(stderr=True)
    t0 = time.monotonic()
    # Before anything is written or started: code benchmarks need an isolated sandbox (or the user's explicit yes).
    isolation = code_isolation((get_benchmark(n).kind for n in spec.benchmarks), allow_unsandboxed)
    unsandboxed = isolation == "none"
    store = RunStore(spec.run_dir)
    previous = store.read_run() if store.path(RUN_JSON).exists() else None
    if previous is not None:
        check_resumable(previous, spec)
    problems, identities = load_all_problems(spec)
    store.open_for_append()
    existing = store.generations()
    done = {g.key for g in existing}
    todo = plan_missing(spec, problems, done)
    store.write_run(run_info(spec, None, identities, previous, unsandboxed))
    by_key = {(p.benchmark, p.id): p for ps in problems.values() for p in ps}
    total = sum(len(m) for _, _, miss in todo for m in miss.values())
    if existing:
        console.print(f"[cyan]resuming {spec.run_dir}: {len(done)} generations on disk, {total} to go[/]")
    grading = Grading(workers=spec.grade_workers, timeout=spec.grade_timeout, isolation=isolation)
    generated = graded = tokens = 0
    own_engine = engine is None
    try:
        graded += grade_missing(store, by_key, grading, existing)  # a kill between generating and grading
        if todo:
            if engine is None:
                console.print(f"[cyan]starting engine {spec.engine.kind} for {spec.engine.model}[/]")
                engine = build_engine(spec.engine)
            store.write_run(run_info(spec, engine.identity(), identities, previous, unsandboxed))
            ctx = BudgetContext(
                solution_budget=spec.solution_budget, sampling=spec.sampling, seed=spec.seed,
                share_thinking=spec.share_thinking,
                passes=passes_from_rows(store.thinking()) if spec.share_thinking else {},
            )
            system = {n: get_benchmark(n).system_prompt for n in spec.benchmarks}
            jobs = [
                (Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt, system[p.benchmark])), s, ()), miss)
                for p, s, miss in todo
            ]
            gen_t0 = time.monotonic()
            with _progress(console) as bar:
                task = bar.add_task("thinking", total=total, tps="")

                def report(phase: str, n: int, toks: int) -> None:
                    nonlocal tokens
                    tokens += toks
                    rate = tokens / max(1e-9, time.monotonic() - gen_t0)
                    bar.update(task, description=phase, advance=n if phase != "thinking" else 0, tps=f"{rate:,.0f} tok/s")

                options = StrategyOptions(spec.min_thinking, spec.prompt_cap, system)
                for batch in chunks(jobs, spec.batch_size):
                    work: dict[str, list[Job]] = {}
                    for job, miss in batch:
                        for strategy, budgets in miss.items():
                            work.setdefault(strategy, []).append(replace(job, budgets=budgets))
                    out = run_strategies(engine, work, ctx, options, report)
                    store.append_thinking(out.thinking_rows)
                    generated += store.append_generations(out.generations)
                    bar.update(task, description="grading")
                    graded += grade_missing(store, by_key, grading, out.generations)
    finally:
        grading.close()
        if own_engine and engine is not None:
            engine.close()
    n_rows, plots = finalize(store, console)
    return SweepResult(spec.run_dir, generated, graded, n_rows, plots, time.monotonic() - t0, tokens)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[tps]}"), TimeElapsedColumn(), console=console, transient=False,
    )

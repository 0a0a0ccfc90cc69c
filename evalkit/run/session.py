"""What every run command shares around the runner: loading problems, grading rows left ungraded by a kill,
the live display, running the groups, recording the timing in run.json, and the summary and plots at the end.

`sweep` and `offload-sim` only plan their missing keys and build their controllers; everything else is here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from rich.console import Console

from evalkit.benchmarks import get_benchmark, load_problems, register_spec_cards
from evalkit.difficulty import fields_present, problem_metadata
from evalkit.engines.streaming import StreamingEngine
from evalkit.frames import write_samples_parquet
from evalkit.plots import plot_accuracy_vs_tokens, series_from_summary
from evalkit.run.grading import BackgroundGrading
from evalkit.run.progress import RunProgress
from evalkit.run.runner import Group, RunOutcome, Runner, RunTiming
from evalkit.run.writer import RowWriter
from evalkit.rundir import write_problems
from evalkit.store import RUN_JSON, SUMMARY, RunStore
from evalkit.summary import (
    SUMMARY_AUC, AucRow, read_summary, summarize, summarize_auc, summarize_by, summary_by_name, write_dataclass_csv,
    write_summary, write_summary_by,
)
from evalkit.types import Generation, Problem


def load_all_problems(spec: Any) -> tuple[dict[str, list[Problem]], dict[str, Any]]:
    """Problems of every benchmark of a spec (SweepSpec or OffloadSpec), and each dataset's identity."""
    problems, identities = {}, {}
    # The run's benchmark cards first (absolute paths in run.json), so a resumed run finds its custom benchmarks.
    register_spec_cards(spec)
    for name in spec.benchmarks:
        get_benchmark(name)  # unknown names fail before any data is read
    for name in spec.benchmarks:
        probs, ident = load_problems(name, spec.data_dir, spec.limit, spec.prompts, spec.benchmark_options)
        problems[name], identities[name] = probs, ident
    return problems, identities


def record_problems(store: RunStore, problems: dict[str, list[Problem]], identities: dict[str, Any]) -> int:
    """problems.jsonl: what a copied run directory needs to be graded and read without the benchmark data."""
    systems = {name: get_benchmark(name).system_prompt for name in problems}
    return write_problems(store.root, problems, identities, systems)


def finalize(store: RunStore, console: Console | None = None,
             problems: Iterable[Problem] | None = None) -> tuple[int, tuple[Path, ...]]:
    """Write summary.csv, summary_auc.csv, summary_by_<field>.csv per difficulty field and the plots.

    Difficulty groups come from `problems` when the caller holds them, else from the run's problems.jsonl;
    the end of a run never reloads a dataset (`evalkit plot/report --by` do, on request).
    """
    gens, grades = store.generations(), store.grades()
    rows = summarize(gens, grades)
    write_summary(rows, store.path(SUMMARY))
    write_samples_parquet(store.root)  # for users who load results outside evalkit (pandas, polars, duckdb)
    write_dataclass_csv(summarize_auc(rows), AucRow, store.path(SUMMARY_AUC))
    plots: tuple[Path, ...] = ()
    if rows:
        series = series_from_summary(read_summary(store.path(SUMMARY)), store.root.name, label_strategy=True)
        plots = tuple(plot_accuracy_vs_tokens(series, store.plots_dir))
        meta = problem_metadata(store.root, problems, load=False)
        # Two groups at least: one group (arith's single --arith-difficulty, one AIME year) repeats summary.csv.
        for field in fields_present(meta, min_groups=2):
            path = store.path(summary_by_name(field))
            write_summary_by(summarize_by(gens, grades, field, meta), field, path)
            by = series_from_summary(read_summary(path), store.root.name, label_strategy=True, by=field)
            plots += tuple(plot_accuracy_vs_tokens(by, store.plots_dir, by=field))
    return len(rows), plots


def ungraded(store: RunStore, problems: dict[tuple[str, str], Problem], gens: Sequence[Generation]) -> list[tuple[Problem, Generation]]:
    have = store.grades()
    return [(problems[(g.benchmark, g.problem_id)], g) for g in gens
            if g.key not in have and (g.benchmark, g.problem_id) in problems]


class RunSession:
    """One invocation over one run directory: background grading and the display live as long as it does."""

    def __init__(self, store: RunStore, console: Console, workers: int, timeout: float, total_rows: int,
                 label: str = "generate", isolation: str | None = None) -> None:
        self.store, self.console = store, console
        self.progress = RunProgress(console, total_rows, label)
        self.grading = BackgroundGrading(store.append_grades, workers, timeout, on_progress=self._graded,
                                         isolation=isolation)
        self._writer: RowWriter | None = None

    def _graded(self) -> None:
        self.progress.grading(self.grading.done, self.grading.submitted, self.grading.errors)

    def __enter__(self) -> "RunSession":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.grading.drain()  # verdicts of every row written are on disk before the command returns
        finally:
            self.progress.__exit__(*exc)

    def grade_leftovers(self, items: list[tuple[Problem, Generation]]) -> None:
        """Rows a killed run wrote but did not grade: graded now, beside the new generation."""
        self.grading.submit(items)

    def writer(self) -> RowWriter:
        """The run's row writer; controllers save thinking passes through it too. Closed by `run`."""
        if self._writer is None:
            self._writer = RowWriter(self.store, self.grading.submit)
        return self._writer

    def run(self, engines: Sequence[StreamingEngine], groups: Sequence[Group], max_inflight: int | None) -> RunOutcome:
        """Run the groups to the end (the runner drains grading) and record the timing in run.json."""
        runner = Runner(engines, self.writer(), self.grading, self.progress, max_inflight)
        outcome = runner.run(groups)
        self.record_timing(outcome.timing)
        return outcome

    def record_timing(self, timing: RunTiming, extra: dict[str, Any] | None = None) -> None:
        info = self.store.read_run() if self.store.path(RUN_JSON).exists() else {}
        info["timing"] = {**timing.to_json(), **(extra or {})}
        self.store.write_run(info)


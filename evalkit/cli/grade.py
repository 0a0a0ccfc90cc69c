"""`evalkit grade`: verdicts for a run's ungraded generations (or all, with --regrade), then summary and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from evalkit.cli.options import complete_runs
from evalkit.cli.app import out
from evalkit.cli.output import print_summary
from evalkit.cli.command import takes
from evalkit.cli.sandbox import print_unsandboxed_note
from evalkit.errors import EvalkitError


@takes("data_dir", "allow_unsandboxed",
       help={"data_dir": "Code benchmarks: folder with the tests' files, when the run's own --data-dir is not on "
                         "this machine (math grades from problems.jsonl)."})
def grade(
    run: Path = typer.Argument(..., autocompletion=complete_runs, help="Run directory (results/<name>)."),
    regrade: bool = typer.Option(False, "--regrade", help="Grade every generation again (new verdicts win)."),
    *, data_dir: Optional[str], allow_unsandboxed: bool,
) -> None:
    """Grade generations that have no verdict yet (or all with --regrade), then rewrite summary and plots.

    Math answers are checked against the gold in the run's problems.jsonl, so a copied run directory regrades
    without the benchmark data; code needs its tests (found through --data-dir or the run's own source).
    """
    from evalkit.benchmarks import load_problems, register_cards
    from evalkit.config import SweepSpec
    from evalkit.grading.dispatch import Grading, code_isolation
    from evalkit.run.grading import default_grade_workers
    from evalkit.run.session import finalize
    from evalkit.rundir import problems_for_grading
    from evalkit.store import RunStore
    from evalkit.types import GradeRecord

    store = RunStore(run)
    spec = SweepSpec.from_json(store.read_run()["spec"])
    # A card benchmark's code tests are found through its card; math grades from problems.jsonl, so a copied run
    # whose card stayed behind still grades.
    register_cards(c for c in spec.benchmark_cards if Path(c).is_file())
    gens = store.generations()
    have = {} if regrade else store.grades()
    pending = [g for g in gens if g.key not in have]

    def from_data(name: str) -> list:
        # Every problem of the source (no --limit): the keys wanted are picked from them by id.
        return load_problems(name, data_dir or spec.data_dir, None, spec.prompts, spec.benchmark_options)[0]

    by_key = problems_for_grading(store.root, {(g.benchmark, g.problem_id) for g in pending}, from_data)
    todo = [(by_key[(g.benchmark, g.problem_id)], g) for g in pending if (g.benchmark, g.problem_id) in by_key]
    isolation = code_isolation((p.kind for p, _ in todo), allow_unsandboxed)  # fails closed before grading
    if isolation == "none":
        store.write_run({**store.read_run(), "unsandboxed": True})
    grading = Grading(spec.grade_workers or default_grade_workers(spec.engine.kind, False), spec.grade_timeout,
                      isolation=isolation)
    try:
        store.open_for_append()
        verdicts = grading.grade(todo)
        store.append_grades(GradeRecord.of(g, v) for (_, g), v in zip(todo, verdicts))
    finally:
        grading.close()
    finalize(store, problems=_metadata_source(store.root, spec.benchmarks, from_data))
    print_summary(store.root)
    print_unsandboxed_note(store.root, out)
    out.print(f"graded {len(todo)} generations in {run}")


def _metadata_source(root: Path, benchmarks: tuple[str, ...], from_data: Any) -> Optional[list]:
    """Problems for the difficulty breakdowns: None when problems.jsonl has them, else (runs written before it
    existed) every problem of the run's benchmarks, or None when their data is not here either."""
    from evalkit.rundir import PROBLEMS

    if (root / PROBLEMS).exists():
        return None
    try:
        return [p for name in benchmarks for p in from_data(name)]
    except EvalkitError:
        return None

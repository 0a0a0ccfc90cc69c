"""The Python API: a run directory as pandas DataFrames, several runs stacked, and a sweep started from Python.

    import evalkit
    run = evalkit.load_run("results/smollm2-demo_arith")
    run.samples.groupby("budget").correct.mean()

`Run.samples` has one row per generation (generations.jsonl), joined with its verdict (grades.jsonl; the last one
wins, as everywhere) and its problem's kind, gold and metadata (problems.jsonl); `Run.summary` is summary.csv;
`Run.thinking` is thinking.jsonl (the tables are built in frames.py). pandas is imported only when a table
is first read, so `import evalkit` stays light.
"""

from __future__ import annotations

import difflib
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from evalkit.errors import EvalkitError
from evalkit.frames import _pandas, problems_frame, samples_frame, summary_frame, thinking_frame
from evalkit.store import RUN_JSON, RunStore

if TYPE_CHECKING:
    import pandas as pd


class Run:
    """One run directory. Each table is read on first use and kept."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not (self.path / RUN_JSON).is_file():
            raise EvalkitError(f"{self.path} is not an evalkit run directory (no {RUN_JSON}): pass results/<name>")
        self.name = self.path.resolve().name

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @cached_property
    def info(self) -> dict[str, Any]:
        """run.json: the resolved spec, versions, model and dataset identity, timing."""
        return RunStore(self.path).read_run()

    @cached_property
    def samples(self) -> "pd.DataFrame":
        return samples_frame(self.path)

    @cached_property
    def summary(self) -> "pd.DataFrame":
        return summary_frame(self.path)

    @cached_property
    def thinking(self) -> "pd.DataFrame":
        return thinking_frame(self.path)

    @cached_property
    def problems(self) -> "pd.DataFrame":
        return problems_frame(self.path)


class Runs:
    """Several runs stacked: each table has a leading `run` column (the folder name, widened where two clash)."""

    def __init__(self, runs: Sequence[Run], labels: Sequence[str]) -> None:
        self.runs, self.labels = list(runs), list(labels)

    def __repr__(self) -> str:
        return f"Runs({self.labels!r})"

    def _stack(self, table: str) -> "pd.DataFrame":
        pd = _pandas()
        parts = [getattr(r, table).assign(run=label) for r, label in zip(self.runs, self.labels)]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return frame[["run", *[c for c in frame.columns if c != "run"]]] if "run" in frame.columns else frame

    @cached_property
    def samples(self) -> "pd.DataFrame":
        return self._stack("samples")

    @cached_property
    def summary(self) -> "pd.DataFrame":
        return self._stack("summary")

    @cached_property
    def thinking(self) -> "pd.DataFrame":
        return self._stack("thinking")

    @cached_property
    def problems(self) -> "pd.DataFrame":
        return self._stack("problems")


def load_run(path: str | os.PathLike[str]) -> Run:
    """A run directory (results/<name>) as DataFrames: `.samples`, `.summary`, `.thinking`, `.problems`, `.info`."""
    return Run(path)


def load_runs(paths: Sequence[str | os.PathLike[str]], labels: Sequence[str] | None = None) -> Runs:
    """Several run directories stacked, with a `run` column (labels: folder names unless given)."""
    from evalkit.plots import unique_labels

    runs = [Run(p) for p in paths]
    if labels is not None and len(labels) != len(runs):
        raise EvalkitError(f"{len(labels)} labels for {len(runs)} runs: give one label per run, in order, or none")
    return Runs(runs, list(labels) if labels is not None else unique_labels([r.path for r in runs]))


# sweep from Python ---------------------------------------------------------------------------------------------

class UnknownOption(EvalkitError, TypeError):
    """An `evalkit.sweep()` keyword that `evalkit sweep` does not have."""


def sweep_options() -> dict[str, Any]:
    """`evalkit sweep`'s options (Python names, e.g. solution_budget for --solution-budget) and their defaults;
    not those that only make sense on a command line (--config, --preset, --dry-run and its --profile, --json)."""
    from evalkit.cli.options import OPTIONS
    from evalkit.cli.sweep import SWEEP_OPTIONS

    cli_only = ("config", "preset", "dry_run", "profile", "as_json")
    return {n: OPTIONS[n].default for n in SWEEP_OPTIONS if n not in cli_only}


def _as_flag_text(name: str, value: Any, default: Any) -> Any:
    """Python values onto the text the flag takes: budgets=[512, "1k"] -> "512,1k", solution_budget=256 -> "256"."""
    if name == "prompt":
        return [value] if isinstance(value, str) else list(value)
    if isinstance(default, str) and isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(default, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def sweep(**options: Any) -> Run:
    """Run `evalkit sweep` from Python with the command's option names; returns the finished run.

        evalkit.sweep(model="smollm2-demo", benchmarks="arith", budgets=[16, 32], solution_budget=32, limit=5)

    Unknown names raise UnknownOption (a TypeError and an EvalkitError) naming the closest valid option.
    """
    from rich.console import Console

    from evalkit.cli.settings import RUN_TOML, settings_toml
    from evalkit.cli.sweep import SWEEP_OPTIONS, sweep_spec
    from evalkit.sweep import run_sweep

    known = sweep_options()
    for name in options:
        if name.replace("-", "_") not in known:
            close = difflib.get_close_matches(name.replace("-", "_"), list(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid options: {', '.join(sorted(known))}"
            raise UnknownOption(f"evalkit.sweep() has no option {name!r}: {hint}")
    given = {k.replace("-", "_"): v for k, v in options.items()}
    values = {k: _as_flag_text(k, given[k], d) if k in given else d for k, d in known.items()}
    allow_unsandboxed = bool(values.pop("allow_unsandboxed"))
    verbose = bool(values.pop("verbose"))
    console = Console(stderr=True)
    result = run_sweep(sweep_spec(**values), console, allow_unsandboxed=allow_unsandboxed,
                       engine_log=None if verbose else (console,),
                       settings=(RUN_TOML, settings_toml("sweep", values, SWEEP_OPTIONS)))
    return Run(result.run_dir)


__all__ = ["Run", "Runs", "UnknownOption", "load_run", "load_runs", "sweep", "sweep_options"]

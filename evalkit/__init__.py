"""evalkit: benchmark reasoning language models under token budgets.

The Python API (pandas is imported only when a table is read):

    import evalkit
    run = evalkit.load_run("results/smollm2-demo_arith")    # .samples .summary .thinking .problems .info
    runs = evalkit.load_runs(["results/a", "results/b"])     # the same tables stacked, with a `run` column
    run = evalkit.sweep(benchmarks="arith", budgets=[16, 32]) # `evalkit sweep` with its option names
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import os

    from evalkit.api import Run, Runs

from evalkit.version import __version__

__all__ = ["load_run", "load_runs", "sweep", "__version__"]


def load_run(path: "str | os.PathLike[str]") -> "Run":
    """A run directory as DataFrames: `.samples` (one row per generation, with verdict and problem metadata),
    `.summary` (summary.csv), `.thinking` (thinking.jsonl), `.problems` (problems.jsonl), `.info` (run.json)."""
    from evalkit.api import load_run as load

    return load(path)


def load_runs(paths: "Sequence[str | os.PathLike[str]]", labels: "Sequence[str] | None" = None) -> "Runs":
    """Several run directories stacked: each table gains a leading `run` column (folder names unless `labels`)."""
    from evalkit.api import load_runs as load

    return load(paths, labels)


def sweep(**options: Any) -> "Run":
    """Run `evalkit sweep` from Python with the command's option names (solution_budget=..., budgets=[16, 32]);
    returns the finished run. An unknown name raises a TypeError (evalkit.api.UnknownOption) naming the closest."""
    from evalkit.api import sweep as run

    return run(**options)


class _Package(types.ModuleType):
    """The submodule evalkit.sweep (the sweep command's engine room) shares its name with the API function
    `evalkit.sweep`. Importing a submodule sets it as an attribute of its package, which would replace the
    function; the function keeps the name, and `from evalkit.sweep import ...` still finds the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "sweep" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

"""`evalkit plot`: accuracy-vs-tokens figures for one or several runs (or baseline files)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from evalkit.cli.options import complete_runs
from evalkit.cli.app import out
from evalkit.errors import EvalkitError


def plot(
    runs: List[Path] = typer.Argument(..., autocompletion=complete_runs, help="Run directories (or baseline .json files) to draw on the same axes."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Folder for figures (default: RUN/plots for one run, results/compare/plots for several)."),
    pareto: bool = typer.Option(False, "--pareto", help="Mark the accuracy/token Pareto frontier."),
    label: List[str] = typer.Option([], "--label", help="Legend name per run, in order (default: folder or file names)."),
    log_x: bool = typer.Option(False, "--log-x", help="Log-2 token axis (budgets that double)."),
    by: Optional[str] = typer.Option(None, "--by", help="One panel per difficulty group: level, difficulty, rating_band or year (run directories only)."),
) -> None:
    """Draw accuracy-vs-tokens (PNG + SVG) per benchmark; several runs overlay, with CI bars and budget labels.

    Example: evalkit plot results/model-a results/model-b --pareto --out results/compare
    With --by level: <bench>_accuracy_vs_tokens_by_level.* with one panel per MATH500 level.
    """
    from dataclasses import replace

    from evalkit.plots import plot_accuracy_vs_tokens, series_from_outcomes, series_from_summary, unique_labels
    from evalkit.store import SUMMARY
    from evalkit.summary import read_summary

    if label and len(label) != len(runs):
        raise EvalkitError(f"{len(label)} --label for {len(runs)} runs: give one --label per run, in order, or none")
    series = []
    for run, name in zip(runs, label or unique_labels(runs)):
        if by is not None:
            from evalkit.breakdown import summary_rows_by

            if not run.is_dir():
                raise EvalkitError(f"--by {by} needs run directories (a baseline file holds no problem metadata): drop {run} or --by")
            series += series_from_summary(summary_rows_by(run, by), name, label_strategy=True, by=by)
            continue
        if run.is_file() and run.suffix == ".json":
            from evalkit.outcomes import read_baseline

            series += series_from_outcomes(read_baseline(run), name, label_strategy=True)
            continue
        path = run / SUMMARY
        if not path.exists():
            raise EvalkitError(f"{run} has no {SUMMARY}: run `evalkit grade {run}` first, or pass a run directory")
        series += series_from_summary(read_summary(path), name, label_strategy=True)
    if len({s.strategy for s in series}) == 1:  # one strategy everywhere: the run name alone is the clearer legend
        series = [replace(s, label=s.run) for s in series]
    target = out_dir or (runs[0] / "plots" if len(runs) == 1 and runs[0].is_dir() else Path("results") / "compare" / "plots")
    for p in plot_accuracy_vs_tokens(series, target, pareto=pareto, logx=log_x, by=by):
        out.print(str(p))

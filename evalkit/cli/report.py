"""The `evalkit report` and `evalkit baseline` commands (registered on the main app by evalkit/cli/__init__.py).

Exit codes of `report`: 0 no regression, 1 at least one REGRESSED cell (with --strict also UNDERPOWERED or
MISSING), 2 bad input (EvalkitError, mapped by cli.main).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from evalkit.cli.command import takes
from evalkit.cli.options import CONFIG_OPTS, complete_runs

# CI logs do not wrap lines, and a 12-column table squeezed into rich's default 80 columns there is unreadable.
out = Console() if sys.stdout.isatty() or os.environ.get("COLUMNS") else Console(width=160)
err = Console(stderr=True)


REPORT_OPTIONS = ("max_drop", "min_problems", "level", "resamples", "bootstrap_seed", "allow_mismatch",
                  "allow_different_close", "strict", "markdown_path", "junit_path", "json_path", "by", "show_flips",
                  *CONFIG_OPTS)


@takes(*REPORT_OPTIONS)
def report(
    baseline: str = typer.Argument(..., autocompletion=complete_runs, help="Baseline: a run directory, a baseline .json file, or a name in benchmarks/baselines/."),
    candidate: str = typer.Argument(..., autocompletion=complete_runs, help="Candidate: a run directory (or a baseline file)."),
    *, max_drop: float, min_problems: int, level: float, resamples: int, bootstrap_seed: int, allow_mismatch: bool,
    allow_different_close: bool, strict: bool, markdown_path: Optional[Path], junit_path: Optional[Path],
    json_path: Optional[Path], by: Optional[str], show_flips: bool, **_: Any,
) -> None:
    """Did the candidate get worse? Paired per-problem deltas with CIs per cell; exit 1 on a regression.

    Pairs the runs per benchmark x strategy x budget and per problem: accuracy delta with a paired bootstrap CI,
    token delta, and a verdict per cell (REGRESSED, IMPROVED, OK, UNDERPOWERED, MISSING). Exit 1 on any
    REGRESSED cell, 0 otherwise, 2 on bad input (including runs whose data, prompt or sampling differ).

    Example: evalkit report benchmarks/baselines/smollm2-demo_arith.json results/ci --markdown "$GITHUB_STEP_SUMMARY"
    """
    from evalkit.outcomes import load_outcomes
    from evalkit.report import Thresholds, build_report
    from evalkit.report_formats import flip_lines, json_text, junit_xml, markdown, rich_table, summary_line, write_text

    thresholds = Thresholds(max_drop=max_drop, min_problems=min_problems, level=level, resamples=resamples, seed=bootstrap_seed)
    base, cand = load_outcomes(baseline), load_outcomes(candidate)
    if by is not None:
        from evalkit.breakdown import split_pair

        base, cand = split_pair(base, cand, by)
    rep = build_report(base, cand, thresholds, allow_mismatch, allow_different_close)
    out.print(rich_table(rep))
    if show_flips:
        moved = flip_lines(rep)
        out.print("problems lost and gained (correct/samples, baseline → candidate):" if moved else
                  "no problem was lost or gained: every paired problem scored the same", highlight=False)
        for line in moved:
            out.print(f"  {line}", highlight=False, soft_wrap=True)
    for m in rep.mismatches:
        err.print(f"[yellow]compared despite: {m}[/]", highlight=False)
    for n in rep.notes:
        err.print(f"[yellow]note: {n}[/]", highlight=False)
    if markdown_path is not None:
        summary_env = os.environ.get("GITHUB_STEP_SUMMARY")
        append = bool(summary_env) and Path(summary_env).resolve() == markdown_path.resolve()
        write_text(markdown_path, markdown(rep, show_flips), append=append)
    if junit_path is not None:
        write_text(junit_path, junit_xml(rep))
    if json_path is not None:
        write_text(json_path, json_text(rep, strict, show_flips))
    code = rep.exit_code(strict)
    style = "bold red" if rep.verdict == "REGRESSED" else "green" if rep.verdict in ("OK", "IMPROVED") else "yellow"
    out.print(f"[{style}]{summary_line(rep)}[/]", highlight=False)
    if code:
        # SystemExit, not typer.Exit: cli.main runs click with standalone_mode=False, where Exit is only returned.
        raise SystemExit(code)


def baseline(
    run: Path = typer.Argument(..., autocompletion=complete_runs, help="Run directory to summarise (results/<name>)."),
    output: Path = typer.Option(..., "--output", "-o", help="Baseline file to write, e.g. benchmarks/baselines/<name>.json."),
) -> None:
    """Write a compact baseline file (per-problem outcomes + comparability identity) from a run.

    Per cell and problem: correct/total and mean tokens, plus the dataset, prompt and sampling identity that
    `evalkit report` checks. Keep it in benchmarks/baselines/ and compare CI runs against it.

    Example: evalkit baseline results/smollm2-demo_arith -o benchmarks/baselines/smollm2-demo_arith.json
    """
    from evalkit.errors import EvalkitError
    from evalkit.outcomes import load_outcomes, write_baseline

    if not run.is_dir():
        raise EvalkitError(f"{run} is not a run directory: pass results/<name> (a folder with run.json)")
    outcomes = load_outcomes(run)
    path = write_baseline(outcomes, output)
    n = sum(len(c.problems) for c in outcomes.cells.values())
    out.print(f"wrote {path}: {len(outcomes.cells)} cells, {n} problem outcomes from {run}")
    if outcomes.ungraded:
        err.print(f"[yellow]{outcomes.ungraded} generation(s) without a verdict were left out: run `evalkit grade {run}` first[/]")

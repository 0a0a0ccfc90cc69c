"""What several commands print: the end-of-run summary table (80 columns), the native adherence line, and
JSON on stdout for --json. Light imports only."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Iterator

from rich.table import Table

from evalkit.cli.app import out


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 (and sys.stdout) to stderr for a while: child processes inherit the redirect."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def print_json(doc: Any) -> None:
    """--json: one JSON document on stdout, plain print (rich would wrap and colour it)."""
    import json

    print(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


def summary_records(run_dir: Path) -> list[dict[str, Any]]:
    """summary.csv rows with numbers as numbers and empty cells as null, for --json."""
    from evalkit.store import SUMMARY
    from evalkit.summary import read_summary

    path = run_dir / SUMMARY
    return [{k: _number(v) for k, v in row.items()} for row in read_summary(path)] if path.exists() else []


def _number(text: str) -> Any:
    if text == "":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def print_summary(run_dir: Path) -> None:
    from evalkit.store import SUMMARY
    from evalkit.summary import read_summary

    path = run_dir / SUMMARY
    if not path.exists():
        return
    rows = read_summary(path)
    out.print(summary_table(rows, run_dir.name, out.width))
    # Samples the grader could not judge (bad gold, crash, timeout) count as not correct in pass@1: say how many,
    # so a broken gold or grader is never read as a weak model.
    errors, timeouts = (sum(int(r.get(col) or 0) for r in rows) for col in ("errors", "timeout"))
    if errors or timeouts:
        out.print(
            f"[yellow]not graded: {errors} grader errors, {timeouts} grading timeouts[/] (counted as not correct; "
            f"columns errors/timeout in summary.csv, causes in grades.jsonl `detail`)"
        )


def print_native_adherence(run_dir: Path) -> None:
    """native rows: how often the engine kept to the budget (thinking past t + the close is over budget)."""
    from evalkit.store import RunStore

    rows = [g for g in RunStore(run_dir).generations() if g.strategy == "native" and g.thinking_budget is not None]
    if not rows:
        return
    over = sum(bool(g.extra.get("over_budget")) for g in rows)
    forced = sum(bool(g.extra.get("engine_forced")) for g in rows)
    colour = "yellow" if over else "green"
    out.print(f"[{colour}]native adherence: {over}/{len(rows)} samples over budget[/] (thinking past t + the close); "
              f"the engine forced the close in {forced}, the model closed itself in {len(rows) - over - forced}")


def summary_table(rows: list[dict], title: str, width: int) -> Table:
    """The end-of-run table. Under 120 columns it keeps what a CI log needs (fits 80 columns with no cut cell);
    wider terminals add the censored share, token split and adherence. Everything is in summary.csv."""
    from rich import box

    wide = width >= 120
    t = Table(title=f"{title}: pass@1, 95% bootstrap CI", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
              padding=(0, 1), collapse_padding=True, title_justify="left")
    cols = ["benchmark", "strategy", "budget", "n", "pass@1", "95% CI", "tokens", "forced"]
    if wide:
        # censored: forced samples left without an answer, as a share of all samples. Even as a 4-character
        # column it pushes a long-named cell past 80 columns, so the CI-log table leaves it to summary.csv.
        cols += ["censored", "think", "answer", "p95 use", "over budget"]
    for col in cols:
        t.add_column(col, justify="left" if col in ("benchmark", "strategy") else "right", no_wrap=True)
    show_k = wide and any(r.get("pass_at_k") for r in rows)  # pass@k (unbiased) when problems have several samples
    if show_k:
        from evalkit.report_formats import pass_at_k_text

        t.add_column("pass@k", no_wrap=True)
    pct = lambda v: f"{100 * float(v):.0f}%" if v else "-"  # noqa: E731  (empty: no token budget, or a summary.csv older than the column)
    for r in rows:
        think, answer = float(r["mean_thinking_tokens"]), float(r["mean_solution_tokens"])
        cells = [r["benchmark"], r["strategy"], r["budget"], r["samples"], f"{100 * float(r['pass1']):.1f}%",
                 f"{100 * float(r['pass1_low']):.0f}-{100 * float(r['pass1_high']):.0f}%", f"{think + answer:.0f}",
                 f"{100 * float(r['forced_rate']):.0f}%"]
        if wide:
            cells += [pct(r.get("censored_rate")), f"{think:.0f}", f"{answer:.0f}", pct(r.get("p95_budget_use")), pct(r.get("over_budget_rate"))]
        t.add_row(*cells, *([pass_at_k_text(r["pass_at_k"])] if show_k else []))
    return t

"""The `evalkit view` command (registered on the main app by evalkit/cli/__init__.py): run directories -> one HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from evalkit.cli.options import complete_runs
from evalkit.cli.app import out


def view(
    runs: List[Path] = typer.Argument(..., autocompletion=complete_runs, help="Run directories (results/<name>); with two or more, the first is the reference for flips."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="HTML file to write (default: RUN/view.html for one run, results/compare/view.html for several)."),
    max_chars: Optional[int] = typer.Option(None, "--max-chars", min=1, help="Keep at most N characters of each thinking, solution and grader detail (a smaller page for long runs)."),
) -> None:
    """Write one self-contained HTML page to browse a run: identity, plots, summary and every sample.

    Filter samples by benchmark, strategy, budget, verdict and forced `</think>`, search the problem text, and open
    a sample to read its thinking and solution beside the gold answer. With two runs it lists the problems solved
    in one and not the other. The file needs no server and fetches nothing.

    Example: evalkit view results/smollm2-demo_arith -o report.html
    """
    from evalkit.store import RunStore
    from evalkit.view import write_view

    for r in runs:
        RunStore(r).read_run()  # one clear error for a folder that is not a run, before reading anything big
    target = output or (runs[0] / "view.html" if len(runs) == 1 else Path("results") / "compare" / "view.html")
    path = write_view(list(runs), target, max_chars)
    mb = path.stat().st_size / 1e6
    out.print(f"wrote {path} ({mb:.1f} MB): open it in a browser")
    if mb > 200 and max_chars is None:
        # Browsers slow down past a few hundred MB of page; long thinking is what makes it big.
        out.print("[yellow]a large page: --max-chars 4000 keeps the first 4000 characters of each text[/]")


def register(app: typer.Typer) -> None:
    app.command()(view)

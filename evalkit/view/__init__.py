"""`evalkit view`: one or more run directories -> one self-contained HTML page (identity, plots, summary, a
sample browser, and per-problem flips between runs). Reads run files only; writes one file.

data.py shapes the samples for the page (column arrays, shared texts); page.py renders the page around them;
page.html is the template with all the CSS and JS.
"""

from __future__ import annotations

import os
from pathlib import Path

from evalkit.view.data import build_view_data
from evalkit.view.page import render_page


def write_view(run_dirs: list[Path], output: Path, max_chars: int | None = None) -> Path:
    """Write the page for `run_dirs` to `output` (atomically: a reader never sees half a page). `max_chars`: keep
    at most that many characters of each thinking, solution and grader detail."""
    view = build_view_data(run_dirs, max_chars)
    text = render_page(view, run_dirs)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, output)
    return output

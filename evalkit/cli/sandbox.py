"""The line that reminds the user at the end of a run that its programs were not isolated (`--allow-unsandboxed`,
an option of the vocabulary in cli/options.py, taken by every command that grades code).

Without the flag, a command that would grade code on a machine where the sandbox cannot isolate programs (no root
and no unprivileged user namespaces) stops before any engine starts, with the fix in one line. Light imports only.
"""

from __future__ import annotations

import json
from pathlib import Path
from rich.console import Console

from evalkit.store import RUN_JSON


def print_unsandboxed_note(run_dir: Path, out: Console) -> None:
    """One yellow line when the run's run.json says some of its code ran without isolation."""
    try:
        info = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if info.get("unsandboxed"):
        out.print("[bold yellow]code ran UNSANDBOXED[/] (--allow-unsandboxed): the model's programs could reach the "
                  "network and your files; run.json records it", highlight=False)

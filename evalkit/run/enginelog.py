"""Engine output goes to `<run>/engine.log`, so the terminal shows only evalkit's own lines, progress and table.

vLLM logs through Python `logging` to the process's stdout and starts an engine-core subprocess that inherits
file descriptors 1 and 2; neither can be silenced from Python alone. So, while an engine starts and runs, fds 1
and 2 point at the log file at the OS level (every thread and child process writes there), and evalkit's rich
consoles write to duplicates of the original terminal fds saved beforehand. On exit the fds are restored.
`--verbose` skips all of this and streams the engine's output as before.
"""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rich.console import Console

from evalkit.errors import EvalkitError

ENGINE_LOG = "engine.log"


def _fd(console: Console) -> int | None:
    try:
        return console.file.fileno()
    except (AttributeError, OSError, ValueError):  # StringIO and other in-memory files: not a terminal fd
        return None


@contextmanager
def engine_output_to_log(run_dir: Path, consoles: tuple[Console, ...], verbose: bool = False) -> Iterator[Path]:
    """Send fds 1/2 to `<run_dir>/engine.log` for the block; `consoles` keep writing where they wrote before.
    An EvalkitError raised inside gains the log's path, so the one red line tells where the details are."""
    log_path = Path(run_dir) / ENGINE_LOG
    if verbose:
        yield log_path
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = {1: os.dup(1), 2: os.dup(2)}
    # Line-buffered text files on the saved fds; closefd=False: the fds are closed below, after restoring.
    terminals = {fd: os.fdopen(dup, "w", buffering=1, closefd=False) for fd, dup in saved.items()}
    moved: list[tuple[Console, object]] = []
    for c in consoles:
        fd = _fd(c)
        if fd in terminals and all(c is not m for m, _ in moved):
            moved.append((c, c._file))  # rich keeps the explicit file here; None means "sys.stdout/err at print"
            c.file = terminals[fd]
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    try:
        yield log_path
    except EvalkitError as e:
        raise EvalkitError(f"{e} (engine output: {log_path})") from e
    except Exception as e:
        # A crash inside the engine: the traceback joins the engine's own output, the terminal gets one line.
        traceback.print_exc()
        first = (str(e).strip().splitlines() or [""])[0]
        raise EvalkitError(f"the engine failed: {type(e).__name__}: {first} (details: {log_path})") from e
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, dup in saved.items():
            os.dup2(dup, fd)
        for c, previous in moved:
            c.file = previous  # type: ignore[assignment]
        for f in terminals.values():
            f.close()
        for dup in saved.values():
            os.close(dup)
        os.close(log_fd)

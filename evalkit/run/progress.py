"""The live display of a run: one line for generation (rows done / total, tokens per second, ETA) and one for
grading (verdicts done / rows handed over, ETA). Fits 80 columns; in a log (no terminal) rich prints the final
state once."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class RunProgress:
    def __init__(self, console: Console, generate_total: int, label: str = "generate") -> None:
        self._lock = threading.Lock()
        self.t0 = time.monotonic()
        self.bar = Progress(
            TextColumn("[bold blue]{task.description:<8}"), BarColumn(bar_width=20), MofNCompleteColumn(),
            TextColumn("{task.fields[note]:>14}"), TextColumn("ETA"), TimeRemainingColumn(compact=True),
            console=console, transient=False, refresh_per_second=4,
            # Leave sys.stdout/stderr alone: what the engine prints in this process (warnings, tqdm) must follow
            # fds 1/2 into <run>/engine.log, not be routed around it to the terminal (run/enginelog.py).
            redirect_stdout=False, redirect_stderr=False,
        )
        self.gen = self.bar.add_task(label, total=generate_total, note="")
        self.grade = self.bar.add_task("grade", total=0, note="")

    def __enter__(self) -> "RunProgress":
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def generated(self, rows: int, tokens: int) -> None:
        rate = tokens / max(1e-9, time.monotonic() - self.t0)
        with self._lock:
            self.bar.update(self.gen, advance=rows, note=f"{rate:,.0f} tok/s")

    def grading(self, done: int, submitted: int, errors: int = 0) -> None:
        note = f"{errors} errors" if errors else f"{submitted - done} queued"
        with self._lock:
            self.bar.update(self.grade, completed=done, total=max(submitted, 1) if submitted else 0, note=note)

"""Rows to disk off the event loop: a writer thread appends (and fsyncs) whatever has accumulated, one write per
file per round, then hands the rows it made durable to grading.

Why a thread: on a cluster's network filesystem an fsync can take tens of milliseconds; done on the event loop it
would hold back every controller's next request. Grading starts only after a row is on disk, so a verdict never
exists for a row a crash lost.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from evalkit.store import RunStore
from evalkit.types import Generation, Problem

_STOP = None


class RowWriter:
    def __init__(self, store: RunStore, on_written: Callable[[list[tuple[Problem, Generation]]], None]) -> None:
        self.store = store
        self.on_written = on_written
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="evalkit-writer", daemon=True)
        self._thread.start()
        self.error: BaseException | None = None

    def thinking(self, row: dict[str, Any]) -> None:
        self._queue.put(("thinking", row))

    def rows(self, problem: Problem, gens: list[Generation]) -> None:
        self._queue.put(("rows", (problem, gens)))

    def close(self) -> None:
        """Write everything queued, then stop. Raises what the writer hit (a full disk ...)."""
        self._queue.put(_STOP)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        while True:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(it is _STOP for it in items)
            self._write([it for it in items if it is not _STOP])
            if stop:
                return

    def _write(self, items: list[tuple[str, Any]]) -> None:
        if self.error is not None:
            return
        thinking = [v for k, v in items if k == "thinking"]
        groups = [v for k, v in items if k == "rows"]
        try:
            self.store.append_thinking(thinking)
            self.store.append_generations(g for _, gens in groups for g in gens)
        except BaseException as e:  # surfaced by close(); nothing after a failed write is written
            self.error = e
            return
        self.on_written([(p, g) for p, gens in groups for g in gens])

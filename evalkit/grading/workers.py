"""A pool of worker processes where every task has a hard deadline: a stuck task's worker is SIGKILLed and
replaced, and the task is reported as timed out.

math-verify's own timeouts use signal.alarm, which only works in a process's main thread, and sympy can hang
inside C code where no alarm helps. So graders run here, in the main thread of a spawned worker, and the parent
enforces wall-clock deadlines from outside. Never threads.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Sequence


@dataclass(frozen=True)
class TaskFailure:
    kind: str  # "timeout" | "crash" | "error"
    detail: str


def _worker_main(target: str, conn: Connection) -> None:
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name)
    conn.send(("ready", None, None))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        idx, item = msg
        try:
            conn.send((idx, True, fn(item)))
        except Exception as e:  # the task's problem, not the worker's: report and go on
            conn.send((idx, False, f"{type(e).__name__}: {e}"))


class _Worker:
    def __init__(self, ctx: Any, target: str) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(target, child), daemon=True)
        self.proc.start()
        child.close()
        self.task: int | None = None
        self.deadline = 0.0
        self.ready = False

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


class HardTimeoutPool:
    """`map(items)` runs `module:function` on each item in worker processes with a per-task wall-clock limit."""

    def __init__(self, target: str, workers: int = 2, timeout: float = 10.0, startup_timeout: float = 120.0) -> None:
        self.target = target
        self.n = max(1, workers)
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.ctx = mp.get_context("spawn")  # fork is unsafe once an engine's threads exist
        self.workers: list[_Worker] = []

    def __enter__(self) -> "HardTimeoutPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for w in self.workers:
            try:
                w.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
            w.proc.join(timeout=2)
            w.kill()
        self.workers = []

    def _spawn(self) -> _Worker:
        w = _Worker(self.ctx, self.target)
        w.deadline = time.monotonic() + self.startup_timeout
        return w

    def map(self, items: Sequence[Any]) -> list[Any]:
        results: list[Any] = [None] * len(items)
        pending = list(range(len(items)))[::-1]
        while len(self.workers) < min(self.n, max(1, len(items))):
            self.workers.append(self._spawn())
        remaining = len(items)
        while remaining:
            now = time.monotonic()
            for w in self.workers:
                if w.ready and w.task is None and pending:
                    idx = pending.pop()
                    w.task, w.deadline = idx, now + self.timeout
                    w.conn.send((idx, items[idx]))
            ready = wait([w.conn for w in self.workers], timeout=max(0.0, min(w.deadline for w in self.workers) - now) + 0.01)
            now = time.monotonic()
            for i, w in enumerate(list(self.workers)):
                died = False
                if w.conn in ready:
                    try:
                        idx, ok, value = w.conn.recv()
                    except (EOFError, OSError):
                        died = True
                    else:
                        if idx == "ready":
                            w.ready = True
                            continue
                        results[idx] = value if ok else TaskFailure("error", str(value))
                        w.task = None
                        remaining -= 1
                        continue
                if died or now > w.deadline and (w.task is not None or not w.ready):
                    if w.task is not None:
                        kind = "crash" if died else "timeout"
                        results[w.task] = TaskFailure(kind, f"grader {kind} after {now - w.deadline + self.timeout:.1f}s")
                        remaining -= 1
                    elif not w.ready:
                        raise RuntimeError(f"grading worker for {self.target} did not start")
                    w.kill()
                    self.workers[i] = self._spawn()
        return results

"""Grading beside generation: rows are handed over the moment they are written, graded in worker processes by a
background thread per problem kind, and their verdicts appended to grades.jsonl. The engine never waits on it.

Each thread takes everything queued for its kind at once (math items go to a pool of processes with hard
timeouts, programs to the sandbox), so work that arrives while a chunk is graded goes into the next one. A grader
that raises turns its items into `grader_error` verdicts: counted and shown, never a stalled sweep. Every key is
graded once: the runner submits only keys that have no verdict yet.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Callable, Sequence

from evalkit.grading.dispatch import Grading
from evalkit.types import Generation, GradeRecord, Problem, Verdict

Item = tuple[Problem, Generation]
_DONE = None


def default_grade_workers(engine_kind: str, in_process_cpu_engine: bool) -> int:
    """Grading processes: every CPU this process may use, less one for evalkit and the engine's driver, and less
    half of them when a CPU engine computes in this machine's cores too."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 2
    if in_process_cpu_engine:
        return max(1, cpus // 2)
    return max(1, min(64, cpus - 1))


class BackgroundGrading:
    """`submit` rows; `drain` waits until every submitted row has its verdict on disk."""

    def __init__(self, write: Callable[[list[GradeRecord]], object], workers: int, timeout: float,
                 on_progress: Callable[[], None] | None = None, isolation: str | None = None) -> None:
        self.write = write
        self.isolation = isolation  # the sandbox level probed before the run (code benchmarks)
        self.workers, self.timeout = workers, timeout
        self.on_progress = on_progress or (lambda: None)
        self._queues: dict[str, queue.Queue] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self.submitted = 0
        self.done = 0
        self.errors = 0  # grader_error verdicts
        self.first_error = ""
        self._busy = 0.0

    def submit(self, items: Sequence[Item]) -> None:
        for problem, gen in items:  # called from the row writer's thread and, for leftovers, the main thread
            with self._lock:
                q = self._queues.get(problem.kind)
                if q is None:
                    q = self._queues[problem.kind] = queue.Queue()
                    t = threading.Thread(target=self._loop, args=(problem.kind, q),
                                         name=f"evalkit-grade-{problem.kind}", daemon=True)
                    self._threads[problem.kind] = t
                    t.start()
                self.submitted += 1
            q.put((problem, gen))
        self.on_progress()

    @property
    def queued(self) -> int:
        return self.submitted - self.done

    def busy_seconds(self) -> float:
        return self._busy

    def drain(self) -> None:
        """Wait for every submitted row to be graded and written; the threads end."""
        with self._lock:
            queues, threads = list(self._queues.values()), list(self._threads.values())
            self._queues.clear()
            self._threads.clear()
        for q in queues:
            q.put(_DONE)
        for t in threads:
            t.join()

    def _loop(self, kind: str, q: queue.Queue) -> None:
        grading = Grading(workers=self.workers, timeout=self.timeout, isolation=self.isolation)  # type: ignore[arg-type]
        try:
            while True:
                first = q.get()
                if first is _DONE:
                    return
                chunk = [first]
                stop = False
                while True:
                    try:
                        nxt = q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _DONE:
                        stop = True
                        break
                    chunk.append(nxt)
                self._grade(grading, chunk)
                if stop:
                    return
        finally:
            grading.close()

    def _grade(self, grading: Grading, chunk: list[Item]) -> None:
        t0 = time.monotonic()
        try:
            verdicts = grading.grade(chunk)
        except Exception as e:  # the grader itself failed: these rows are grader errors, the sweep goes on
            detail = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            verdicts = [Verdict(False, "grader_error", None, detail) for _ in chunk]
        records = [GradeRecord.of(g, v) for (_, g), v in zip(chunk, verdicts)]
        with self._lock:
            self.write(records)
            self.done += len(records)
            bad = [v for v in verdicts if v.status == "grader_error"]
            self.errors += len(bad)
            if bad and not self.first_error:
                self.first_error = bad[0].detail
            self._busy += time.monotonic() - t0
        self.on_progress()

"""The one runner behind `sweep` and `offload-sim` (and every later strategy or policy).

A run is a list of groups (one problem x sample, or one problem x sample x policy), each driven by a controller:
an asyncio coroutine of plain sequential code that sends requests to streaming engines, awaits their results,
decides, sends more, and returns its rows. The runner:

- admits groups while the engines have room (requests in flight < their capacity: vLLM's max_num_seqs, endpoints
  x concurrency, the hf batch size), at most that many groups, so the engine stays full and memory stays bounded
  (a group admitted last may fan out into several solution requests; the engine queues them);
  `--max-inflight N` caps requests at the engines at N (`throttled`);
- appends each group's rows the moment its controller returns (a writer thread fsyncs them, then hands them to
  background grading);
- keeps one live display and the timing that goes into run.json.

Why asyncio coroutines: a controller stays readable top to bottom (think, cut, answer; small, big, small), the
runner holds thousands of them in one thread with no locks around controller state, and errors propagate as
ordinary exceptions. Engines run their own loops in background threads and resolve futures.

A kill at any moment loses only the requests in flight: every finished group is on disk, and the same command
plans exactly the missing keys.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Sequence

from evalkit.engines.streaming import StreamingEngine
from evalkit.run.grading import BackgroundGrading
from evalkit.run.progress import RunProgress
from evalkit.run.writer import RowWriter
from evalkit.types import Generation, Problem

ADMIT_POLL = 0.02  # seconds between admission checks while groups run


class Throttled:
    """An engine as controllers see it under `--max-inflight N`: at most N of their requests at the engines at once
    (one semaphore shared by every engine of a run); the rest wait here, in order."""

    def __init__(self, engine: StreamingEngine, limit: asyncio.Semaphore) -> None:
        self.engine, self.limit = engine, limit

    def __getattr__(self, name: str):  # tokenizer, max_model_len, name ... of the engine
        return getattr(self.engine, name)

    async def agenerate(self, requests: Sequence) -> list:
        async def one(req):
            async with self.limit:
                return (await self.engine.agenerate([req]))[0]

        return list(await asyncio.gather(*(one(r) for r in requests)))


def throttled(engines: Sequence[StreamingEngine], max_inflight: int | None) -> list:
    """The engines the controllers get: themselves, or behind one shared `--max-inflight` semaphore."""
    if not max_inflight:
        return list(engines)
    limit = asyncio.Semaphore(max_inflight)
    wrapped: dict[int, Throttled] = {}
    return [wrapped.setdefault(id(e), Throttled(e, limit)) for e in engines]


@dataclass(frozen=True)
class Group:
    """One unit of work: `rows` rows expected, produced by awaiting `run()`."""

    problem: Problem
    rows: int
    run: Callable[[], Awaitable[list[Generation]]]


@dataclass(frozen=True)
class RunTiming:
    wall_s: float  # generation and grading, from the first request to the last verdict
    generate_s: float  # from the first request to the last row written
    engine_busy_s: float  # seconds with at least one request in flight
    engine_idle_s: float  # generate_s - busy: the engine waited on anything else
    grading_s: float  # seconds the grading threads spent grading
    grading_tail_s: float  # waited for grading after the last row was written

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class RunOutcome:
    generated: int
    tokens: int
    timing: RunTiming


class Runner:
    def __init__(self, engines: Sequence[StreamingEngine], writer: RowWriter,
                 grading: BackgroundGrading, progress: RunProgress | None = None, max_inflight: int | None = None) -> None:
        self.engines = list({id(e): e for e in engines}.values())
        self.writer = writer
        self.grading = grading
        self.progress = progress
        total = sum(e.capacity for e in self.engines)
        self.capacity = min(max_inflight, total) if max_inflight else total
        self.generated = 0

    def _in_flight(self) -> int:
        return sum(e.in_flight for e in self.engines)

    def _tokens(self) -> int:
        return sum(e.generated_tokens for e in self.engines)

    def run(self, groups: Sequence[Group]) -> RunOutcome:
        t0 = time.monotonic()
        busy0 = sum(e.busy_seconds() for e in self.engines)
        tok0 = self._tokens()
        try:
            if groups:
                asyncio.run(self._drive(groups))
        finally:
            self.writer.close()  # every finished group's rows on disk (and handed to grading)
        t_gen = time.monotonic()
        self.grading.drain()
        t_end = time.monotonic()
        busy = sum(e.busy_seconds() for e in self.engines) - busy0
        gen_s = t_gen - t0
        timing = RunTiming(
            wall_s=t_end - t0, generate_s=gen_s, engine_busy_s=min(busy, gen_s) if len(self.engines) == 1 else busy,
            engine_idle_s=max(0.0, gen_s - busy) if groups else 0.0, grading_s=self.grading.busy_seconds(),
            grading_tail_s=t_end - t_gen,
        )
        return RunOutcome(self.generated, self._tokens() - tok0, timing)

    async def _drive(self, groups: Sequence[Group]) -> None:
        pending = iter(groups)
        running: set[asyncio.Task] = set()
        exhausted = False
        try:
            while True:
                # Admit while the engines have room; each new controller runs to its first request at once.
                while not exhausted and len(running) < self.capacity and self._in_flight() < self.capacity:
                    group = next(pending, None)
                    if group is None:
                        exhausted = True
                        break
                    running.add(asyncio.create_task(self._one(group)))
                    await asyncio.sleep(0)
                if not running:
                    return
                done, running = await asyncio.wait(running, timeout=ADMIT_POLL, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a controller's error stops the run; rows already written stay
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _one(self, group: Group) -> None:
        rows = await group.run()
        if self.writer.error is not None:  # the disk refused earlier rows: stop instead of generating on
            raise self.writer.error
        self.writer.rows(group.problem, rows)  # appended and fsynced off the loop, then graded
        self.generated += len(rows)
        if self.progress is not None:
            self.progress.generated(len(rows), self._tokens())

"""Streaming engines: every request is submitted on its own and its result is delivered the moment it finishes.

Why: a reasoning sweep is thousands of small dialogues (think, cut, answer; or small model, big model, small
model ...). A batch-synchronous loop waits for the slowest sequence of every phase and starves the engine. Here each
engine runs one loop of its own (a background thread) that keeps taking new requests while it generates, so the
runner can advance each problem x sample the moment its own requests finish and keep the engine full.

`StreamingEngine` is the shared half: a submission queue, per-request futures (usable from threads and from
asyncio), the count of requests in flight, and the engine's busy time (seconds with at least one request in
flight), which the runner records in run.json. Each engine implements `_serve()`, its loop:

- vLLM in process: adds requests to vLLM's scheduler between steps (`LLMEngine.add_request` / `step`);
- openai: worker threads per endpoint pulling from the queue (`--concurrency` in flight per endpoint);
- hf and anything with only a batch `generate`: `BatchStreaming` takes whatever is queued (up to its batch size)
  into each batch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import queue
import threading
import time
from typing import Any, Sequence

from evalkit.errors import EvalkitError
from evalkit.types import GenRequest, GenResult

Item = tuple[GenRequest, cf.Future]
_CLOSE = object()


class StreamingEngine:
    """Base of every engine: `submit` one request, get a future; `generate` / `agenerate` a list."""

    capacity: int = 1  # requests the engine can work on at once; the runner keeps about this many in flight

    def _init_stream(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stream_lock = threading.Lock()
        self._in_flight = 0
        self._open: set[cf.Future] = set()  # submitted, not yet resolved: failed together if the loop dies
        self._busy_since: float | None = None
        self._busy = 0.0
        self._dead: BaseException | None = None
        self.generated_tokens = 0

    # ---- the caller's side -----------------------------------------------------------------------------------
    def submit(self, req: GenRequest) -> cf.Future:
        """Queue one request; the future resolves with its GenResult (or the engine's error)."""
        fut: cf.Future = cf.Future()
        if req.max_tokens <= 0:  # no room at all: answered without asking the engine
            fut.set_result(GenResult((), "", "length"))
            return fut
        with self._stream_lock:
            if self._dead is not None:
                fut.set_exception(self._dead)
                return fut
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve_guarded, name=f"evalkit-{type(self).__name__}",
                                                daemon=True)
                self._thread.start()
            self._in_flight += 1
            self._open.add(fut)
            if self._busy_since is None:
                self._busy_since = time.monotonic()
        fut.add_done_callback(self._finished)
        self._queue.put((req, fut))
        return fut

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        """Blocking: the results of `requests`, in order."""
        futures = [self.submit(r) for r in requests]
        return [f.result() for f in futures]

    async def agenerate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        """For asyncio controllers: the results of `requests`, in order; each is scheduled on its own."""
        futures = [asyncio.wrap_future(self.submit(r)) for r in requests]
        return list(await asyncio.gather(*futures))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def busy_seconds(self) -> float:
        """Seconds so far with at least one request in flight."""
        with self._stream_lock:
            return self._busy + (time.monotonic() - self._busy_since if self._busy_since is not None else 0.0)

    def close_stream(self) -> None:
        with self._stream_lock:
            thread = self._thread
        if thread is not None:
            self._queue.put(_CLOSE)
            thread.join(timeout=30)
        with self._stream_lock:
            self._thread = None

    # ---- the engine's side -----------------------------------------------------------------------------------
    def _finished(self, _fut: cf.Future) -> None:
        with self._stream_lock:
            self._in_flight -= 1
            self._open.discard(_fut)
            if self._in_flight == 0 and self._busy_since is not None:
                self._busy += time.monotonic() - self._busy_since
                self._busy_since = None

    def _take(self, block: bool, limit: int | None = None, timeout: float | None = None) -> list[Item] | None:
        """Queued requests (waiting for one if `block`), at most `limit`; None once the engine is closing."""
        items: list[Item] = []
        try:
            first = self._queue.get(block=block, timeout=timeout)
        except queue.Empty:
            return items
        if first is _CLOSE:
            return None
        items.append(first)
        while limit is None or len(items) < limit:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _CLOSE:
                self._queue.put(_CLOSE)  # seen again on the next take
                break
            items.append(nxt)
        return [(r, f) for r, f in items if f.set_running_or_notify_cancel()]

    def _serve(self) -> None:  # pragma: no cover - each engine has its own
        raise NotImplementedError

    def _serve_guarded(self) -> None:
        try:
            self._serve()
        except BaseException as e:  # the loop died: fail everything waiting, and every later submit
            err = _as_engine_error(self, e)
            with self._stream_lock:
                self._dead = err
                held = list(self._open)
            self._fail_queued(err)
            # Requests the loop had already handed to the engine (vLLM's running batch) die with it: without this
            # their callers would wait forever, e.g. a sweep whose vLLM worker was killed for memory.
            for fut in held:
                try:
                    fut.set_exception(err)
                except cf.InvalidStateError:  # resolved meanwhile
                    pass
            raise

    def _fail_queued(self, err: BaseException) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _CLOSE and not item[1].done():
                item[1].set_exception(err)


class BatchStreaming(StreamingEngine):
    """A streaming loop over a batch-only `_generate_batch(requests)`: each batch takes what is queued (up to
    `capacity`), so requests that arrive while a batch runs go into the next one."""

    def _generate_batch(self, requests: list[GenRequest]) -> list[GenResult]:  # pragma: no cover
        raise NotImplementedError

    def _serve(self) -> None:
        while True:
            items = self._take(block=True, limit=self.capacity)
            if items is None:
                return
            if not items:
                continue
            try:
                results = self._generate_batch([r for r, _ in items])
            except EvalkitError as e:  # a bad request (too long ...): it fails, the loop goes on
                for _, f in items:
                    f.set_exception(e)
                continue
            except BaseException as e:  # the engine itself broke: this batch fails with it, then everything else
                err = _as_engine_error(self, e)
                for _, f in items:
                    f.set_exception(err)
                raise
            for (_, f), res in zip(items, results):
                self.generated_tokens += len(res.token_ids)
                f.set_result(res)


class StreamingAdapter(BatchStreaming):
    """Streams any object with a batch `generate(requests)` (test doubles, third-party engines)."""

    def __init__(self, engine: Any, capacity: int = 64) -> None:
        self.inner = engine
        self.tokenizer = engine.tokenizer
        self.max_model_len = engine.max_model_len
        self.name = getattr(engine, "name", type(engine).__name__)
        self.capacity = capacity
        self._init_stream()

    def _generate_batch(self, requests: list[GenRequest]) -> list[GenResult]:
        return list(self.inner.generate(requests))

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def close(self) -> None:
        self.close_stream()
        self.inner.close()


def streaming(engine: Any) -> StreamingEngine:
    """The engine itself when it streams, else a StreamingAdapter around its batch `generate`."""
    return engine if isinstance(engine, StreamingEngine) else StreamingAdapter(engine)


def _as_engine_error(engine: object, e: BaseException) -> BaseException:
    """What callers see when an engine's loop dies: EvalkitError and interrupts as they are, anything else as one
    EvalkitError line (the original chained for debugging)."""
    if isinstance(e, (EvalkitError, KeyboardInterrupt)):
        return e
    err = EvalkitError(f"the {type(engine).__name__} engine stopped: {_first_line(e)}")
    err.__cause__ = e
    return err


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


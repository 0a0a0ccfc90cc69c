"""A streaming engine over HTTP replicas of one model: one shared queue, worker threads per endpoint slot,
retries with backoff, health probes and failover. It owns dispatch and failure handling only; the subclass
(openai.py) owns the wire format (`_complete`: one request over one connection).

Why threads: each worker holds one keep-alive connection and blocks in one HTTP call at a time, so `--concurrency`
workers per endpoint are exactly `--concurrency` requests in flight there; to the runner they are futures that
resolve as each answer arrives. The workers live as long as the engine (started at the first request, ended by
`close()`), and a supervisor (the stream loop) feeds them and watches the replicas.

- All requests wait in one queue; a worker takes the next one the moment it is free, so a fast replica takes more
  work and a slow one less (data parallel across replicas or machines).
- A connection error, timeout, 408/429 or 5xx puts the request back at the head of the queue (any endpoint may
  take it) and pauses the failing endpoint with exponential backoff. After PROBE_AFTER failures in a row its
  health is probed; if it does not answer it leaves the rotation and the other endpoints take its work.
- An endpoint out of rotation is probed again every REPROBE_S seconds, and at once when work waits and no endpoint
  is alive; it rejoins when it answers.
- A request that fails `retries` + 1 times fails alone. When no endpoint is alive and a fresh probe of each gets
  no answer, every queued and in-flight request fails with one EvalkitError naming each endpoint's last error
  (the runner keeps the rows already written; rerunning the command resumes).
- Any other 4xx means the request itself is wrong: that request fails at once with a clear EvalkitError.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from evalkit.engines.http import Endpoint, JsonConnection, Rejected, Transient
from evalkit.engines.streaming import StreamingEngine, _as_engine_error
from evalkit.errors import EvalkitError
from evalkit.types import GenRequest, GenResult

BACKOFF_BASE = 0.5  # seconds; doubles with every failure in a row, up to BACKOFF_CAP
BACKOFF_CAP = 20.0
PROBE_AFTER = 3  # failures in a row before the endpoint's health is probed
PROBE_TIMEOUT = 5.0
REPROBE_S = 30.0  # how often an endpoint out of rotation is probed while others carry the load
TICK = 0.1  # the supervisor's period: new requests reach the workers at once; this bounds only how late a
#             dead-everywhere state or a due re-probe is noticed
JOIN_S = 5.0  # close(): how long to wait for workers, after their connections were cut
_SERIAL = itertools.count(1)  # numbers engines, so their worker threads can be told apart


@dataclass(frozen=True)
class EndpointStats:
    url: str
    alive: bool
    completed: int  # requests answered by this endpoint (over the engine's life)
    failed: int  # attempts that failed here and were handed back to the queue
    in_flight: int


class Replica:
    """One endpoint's state; every field is read and written under the engine's lock."""

    def __init__(self, endpoint: Endpoint, served_model: str, lock: threading.Lock) -> None:
        self.endpoint = endpoint
        self.served_model = served_model
        self.alive = True
        self.failures = 0  # in a row
        self.resume_at = 0.0  # backoff: no new request before this moment
        self.probing = False
        self.probed_at = float("-inf")  # when the last health probe ended
        self.next_probe = 0.0  # out of rotation: when to probe again
        self.completed = 0
        self.failed = 0
        self.in_flight = 0
        self.last_error = ""
        self.wake = threading.Condition(lock)  # its workers wait here while it is paused or out of rotation


@dataclass(eq=False)
class _Work:
    req: GenRequest
    fut: cf.Future
    attempts: int = 0  # failed attempts so far


class ReplicaEngine(StreamingEngine):
    """Subclasses call `_init_replicas` in their constructor and implement `_complete`."""

    concurrency: int
    retries: int
    timeout: float
    log: Callable[[str], object]

    def _init_replicas(self, replicas: list[tuple[Endpoint, str]]) -> None:
        self._init_stream()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # work queued: free workers of live endpoints wait here
        self._replicas = [Replica(e, model, self._lock) for e, model in replicas]
        self._work: deque[_Work] = deque()
        self._active: dict[JsonConnection, _Work] = {}  # one request at most per worker connection
        self._workers: list[threading.Thread] = []
        self._epoch = 0  # workers of an earlier epoch (before a close) exit
        self._closing = False
        self._down_since: float | None = None
        self.thread_prefix = f"evalkit-{type(self).__name__}#{next(_SERIAL)}-"  # names this engine's workers
        self.requeued = 0  # attempts handed back to the queue after a failure

    def _complete(self, conn: JsonConnection, replica: Replica, req: GenRequest) -> GenResult:  # pragma: no cover
        """Send one request and parse its answer; raises Transient, Rejected or EvalkitError."""
        raise NotImplementedError

    # ---- what callers see ------------------------------------------------------------------------------------

    @property
    def capacity(self) -> int:  # type: ignore[override]
        """Requests the engine works on at once: live endpoints x concurrency (never 0, so that a run with every
        endpoint down submits its work and gets the error instead of waiting)."""
        with self._lock:
            alive = sum(r.alive for r in self._replicas)
        return max(1, alive) * self.concurrency

    def stats(self) -> list[EndpointStats]:
        with self._lock:
            return [EndpointStats(r.endpoint.url, r.alive, r.completed, r.failed, r.in_flight) for r in self._replicas]

    def close(self) -> None:
        self.close_stream()

    # ---- the supervisor (the stream loop) --------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            self._start_workers()
            while True:
                items = self._take(block=True, timeout=TICK)
                if items is None:
                    self._shutdown(EvalkitError("the engine was closed before this request was answered"))
                    return
                if items:
                    with self._lock:
                        self._work.extend(_Work(r, f) for r, f in items)
                        self._ready.notify(len(items))
                self._reprobe_due()
                self._check_all_down()
        except BaseException as e:  # a bug in this loop: nothing may wait forever on a future it holds
            self._shutdown(_as_engine_error(self, e))
            raise

    def _start_workers(self) -> None:
        with self._lock:
            self._closing = False
            self._epoch += 1
            epoch = self._epoch
        for i, rep in enumerate(self._replicas):
            for j in range(self.concurrency):
                t = threading.Thread(target=self._worker, args=(rep, epoch), daemon=True,
                                     name=f"{self.thread_prefix}{i}.{j}")
                t.start()
                self._workers.append(t)

    def _reprobe_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [r for r in self._replicas if not r.alive and not r.probing and r.next_probe <= now]
            for r in due:
                r.probing = True
        for r in due:  # in threads: a hung endpoint's probe must not hold up new requests
            threading.Thread(target=self._probe, args=(r,), daemon=True).start()

    def _check_all_down(self) -> None:
        """With work waiting and no endpoint alive: probe each once more, then fail everything."""
        with self._lock:
            waiting = self._work or any(not w.fut.done() for w in self._active.values())
            if any(r.alive for r in self._replicas) or not waiting:
                self._down_since = None
                return
            if self._down_since is None:
                self._down_since = time.monotonic()
            if any(r.probing for r in self._replicas):
                return
            stale = [r for r in self._replicas if r.probed_at < self._down_since]
            for r in stale:
                r.probing = True
        if stale:
            for r in stale:
                threading.Thread(target=self._probe, args=(r,), daemon=True).start()
            return
        self._fail_all(EvalkitError(self._all_down()))
        with self._lock:
            self._down_since = None  # later requests get a fresh round of probes

    def _fail_all(self, err: BaseException) -> list[JsonConnection]:
        with self._lock:
            doomed = list(self._work) + list(self._active.values())
            self._work.clear()
            conns = list(self._active)
        for w in doomed:
            _settle(w, error=err)
        return conns

    def _shutdown(self, err: BaseException) -> None:
        with self._lock:
            self._closing = True
            workers, self._workers = self._workers, []
            self._ready.notify_all()
            for r in self._replicas:
                r.wake.notify_all()
        conns = self._fail_all(err)
        self._fail_queued(err)
        for c in conns:  # requests still on the wire: the servers stop generating for them
            c.abort()
        deadline = time.monotonic() + JOIN_S
        for t in workers:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def _all_down(self) -> str:
        detail = "; ".join(f"{r.endpoint.url}: {r.last_error or 'down'}" for r in self._replicas)
        return (f"no endpoint is answering ({detail}): restart the server(s) and rerun the same command to resume "
                "(rows already written are kept)")

    # ---- workers ---------------------------------------------------------------------------------------------

    def _worker(self, rep: Replica, epoch: int) -> None:
        conn = JsonConnection(rep.endpoint, self.timeout)
        try:
            while True:
                work = self._next(rep, epoch, conn)
                if work is None:
                    return
                self._attempt(rep, conn, work)
        finally:
            conn.close()

    def _next(self, rep: Replica, epoch: int, conn: JsonConnection) -> _Work | None:
        """The next request for this worker, waiting while its endpoint is paused or out of rotation."""
        with self._lock:
            while True:
                if self._closing or self._epoch != epoch:
                    return None
                now = time.monotonic()
                if not rep.alive or rep.resume_at > now:
                    if self._work:
                        self._ready.notify()  # the wake-up this worker may have taken belongs to a free one
                    rep.wake.wait(None if not rep.alive else rep.resume_at - now)
                    continue
                if not self._work:
                    self._ready.wait()
                    continue
                work = self._work.popleft()
                if work.fut.done():
                    continue
                rep.in_flight += 1
                self._active[conn] = work
                return work

    def _attempt(self, rep: Replica, conn: JsonConnection, work: _Work) -> None:
        try:
            result = self._complete(conn, rep, work.req)
        except Transient as e:
            self._transient(rep, work, str(e))
            return
        except Rejected as e:
            _settle(work, error=EvalkitError(
                f"{rep.endpoint.url} rejected a completion request ({e}): check --model, --max-model-len and the "
                "server's flags; evalkit does not retry requests a server refuses"
            ))
            return
        except Exception as e:  # EvalkitError as it is; anything else as one line naming the engine
            _settle(work, error=_as_engine_error(self, e))
            return
        finally:
            with self._lock:
                rep.in_flight -= 1
                self._active.pop(conn, None)
        with self._lock:
            rep.completed += 1
            rep.failures = 0
        if _settle(work, result=result):
            with self._lock:
                self.generated_tokens += len(result.token_ids)

    def _transient(self, rep: Replica, work: _Work, error: str) -> None:
        now = time.monotonic()
        with self._lock:
            if self._closing:
                return
            rep.failed += 1
            rep.failures += 1
            rep.last_error = error
            rep.resume_at = max(rep.resume_at, now + min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(rep.failures - 1, 16)))
            probe = rep.alive and rep.failures >= PROBE_AFTER and not rep.probing
            if probe:
                rep.probing = True
            give_up = work.attempts + 1 > self.retries
            if not give_up and not work.fut.done():
                work.attempts += 1
                self.requeued += 1
                self._work.appendleft(work)  # first in line: its group has waited longest
                self._ready.notify()
        if give_up:
            _settle(work, error=EvalkitError(
                f"a completion request failed {work.attempts + 1} times, last on {rep.endpoint.url} ({error}): check "
                "the server logs, or raise --retries; rows already written are kept, rerun the same command to resume"
            ))
        if probe:
            self._probe(rep)

    def _probe(self, rep: Replica) -> None:
        """Ask the endpoint's health; out of rotation if it does not answer, back in if it does."""
        healthy = _healthy(rep.endpoint)
        with self._lock:
            was_alive = rep.alive
            rep.probing = False
            rep.probed_at = time.monotonic()
            if healthy and not was_alive:
                rep.alive, rep.failures, rep.resume_at = True, 0, 0.0
            elif not healthy:
                rep.alive = False
                rep.next_probe = rep.probed_at + REPROBE_S
            rep.wake.notify_all()
        if was_alive and not healthy:
            self.log(f"endpoint {rep.endpoint.url} is not answering ({rep.last_error or 'health check failed'}): "
                     "taken out of rotation, its requests go to the other endpoints")
        elif healthy and not was_alive:
            self.log(f"endpoint {rep.endpoint.url} answers again: back in rotation")


def _settle(work: _Work, result: GenResult | None = None, error: BaseException | None = None) -> bool:
    """Resolve a request's future unless something else (close, every endpoint down) already did."""
    try:
        if error is not None:
            work.fut.set_exception(error)
        else:
            work.fut.set_result(result)
        return True
    except cf.InvalidStateError:
        return False


def _healthy(endpoint: Endpoint) -> bool:
    conn = JsonConnection(endpoint, PROBE_TIMEOUT)
    try:
        for path in ("/health", "/v1/models"):
            try:
                conn.call("GET", path)
                return True
            except Rejected as e:
                if e.status == 404:
                    continue  # no /health on this server: try the model listing
                return False
            except Transient:
                return False
        return False
    finally:
        conn.close()

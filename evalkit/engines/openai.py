"""OpenAI-compatible completion servers (vLLM, SGLang) as an evalkit engine, over one or more endpoints.

Requests go out as token-id prompts and come back as token ids (`return_token_ids`), so a thinking phase cut at
a budget continues from exactly the tokens the model wrote. The tokenizer is loaded locally and checked against
every server at start (see servecheck.py).

Load sharing and failure handling, per `generate` call:
- all requests sit in one queue; each endpoint runs `concurrency` worker threads that pull from it, so a fast
  replica takes more work and a slow one less (data parallel across replicas or machines);
- a connection error, timeout, 408/429 or 5xx puts the request back in the queue (any endpoint may take it) and
  pauses the failing endpoint with exponential backoff; after a few failures in a row evalkit probes its health
  and, if it does not answer, takes it out of rotation, so its in-flight requests finish on the others;
- an endpoint taken out is probed again at the start of the next `generate` call and rejoins if it is back;
- a request that fails `retries` + 1 times, or a moment when no endpoint is left, ends the call with an
  EvalkitError (rows of earlier batches are already on disk; rerunning the command resumes);
- any other 4xx means the request itself is wrong: a clear EvalkitError at once, no retries.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from evalkit.config import EngineSpec
from evalkit.engines.base import ChatTokenizer
from evalkit.engines.http import Endpoint, JsonConnection, Rejected, Transient
from evalkit.engines.localtok import load_chat_tokenizer
from evalkit.engines.servecheck import check_server
from evalkit.errors import EvalkitError
from evalkit.types import GenRequest, GenResult

DEFAULT_CONCURRENCY = 64
BACKOFF_BASE = 0.5  # seconds; doubles with every failure in a row, up to BACKOFF_CAP
BACKOFF_CAP = 20.0
PROBE_AFTER = 3  # failures in a row before the endpoint's health is probed
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class EndpointStats:
    url: str
    alive: bool
    completed: int  # requests answered by this endpoint (over the engine's life)
    failed: int  # attempts that failed here and were handed back to the queue
    in_flight: int


class _EndpointState:
    def __init__(self, endpoint: Endpoint, served_model: str) -> None:
        self.endpoint = endpoint
        self.served_model = served_model
        self.alive = True
        self.failures = 0  # in a row
        self.resume_at = 0.0
        self.probing = False
        self.completed = 0
        self.failed = 0
        self.in_flight = 0
        self.last_error = ""


class _Call:
    """The state of one `generate` call shared by its worker threads."""

    def __init__(self, requests: list[GenRequest]) -> None:
        self.requests = requests
        self.results: list[GenResult | None] = [None] * len(requests)
        self.pending: queue.Queue[tuple[int, int]] = queue.Queue()
        for i in range(len(requests)):
            self.pending.put((i, 0))
        self.remaining = len(requests)
        self.error: Exception | None = None
        self.cond = threading.Condition()

    @property
    def stopped(self) -> bool:
        return self.error is not None or self.remaining == 0

    def done(self, index: int, result: GenResult) -> None:
        with self.cond:
            if self.results[index] is None:
                self.results[index] = result
                self.remaining -= 1
            self.cond.notify_all()

    def fail(self, error: Exception) -> None:
        with self.cond:
            if self.error is None:
                self.error = error
            self.cond.notify_all()


class OpenAIEngine:
    def __init__(self, spec: EngineSpec, log=print, tokenizer: ChatTokenizer | None = None,
                 tokenizer_path: str | None = None) -> None:
        if not spec.endpoints:
            raise EvalkitError("--engine openai needs --endpoint URL[,URL...] (e.g. --endpoint http://127.0.0.1:8000)")
        endpoints = [Endpoint.parse(u) for u in spec.endpoints]
        urls = [e.url for e in endpoints]
        if len(set(urls)) != len(urls):
            raise EvalkitError(f"--endpoint lists a server twice ({', '.join(urls)}): give each replica once")
        if spec.concurrency is not None and spec.concurrency < 1:
            raise EvalkitError(f"--concurrency must be >= 1 (got {spec.concurrency})")
        if spec.retries < 0:
            raise EvalkitError(f"--retries must be >= 0 (got {spec.retries})")
        self.spec = spec
        self.log = log
        self.name = spec.model
        if tokenizer is None:
            tokenizer, tokenizer_path = load_chat_tokenizer(spec.tokenizer or spec.model, log)
        self.tokenizer = tokenizer
        self.tokenizer_path = tokenizer_path
        self.concurrency = spec.concurrency or DEFAULT_CONCURRENCY
        self.retries = spec.retries
        self.timeout = spec.request_timeout
        self.retokenised = False  # set when a server returned text without token ids
        self.requeued = 0  # attempts handed back to the queue after a failure
        self._lock = threading.Lock()
        model_path = tokenizer_path if not spec.tokenizer else None
        self.reports = [check_server(e, spec.model, model_path, tokenizer, timeout=min(60.0, self.timeout)) for e in endpoints]
        for rep in self.reports:
            if not rep.ok:
                raise EvalkitError(rep.first_failure() + "  (run `evalkit serve-check URL` for every check)")
        self._states = [_EndpointState(r.endpoint, r.served_model or spec.model) for r in self.reports]
        lens = [r.max_model_len for r in self.reports if r.max_model_len] + ([spec.max_model_len] if spec.max_model_len else [])
        self.max_model_len = min(lens) if lens else _config_max_len(tokenizer_path)

    # ---- Engine protocol -------------------------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        return {
            "engine": "openai", "model": self.spec.model, "tokenizer": self.tokenizer_path,
            "max_model_len": self.max_model_len, "concurrency_per_endpoint": self.concurrency,
            "endpoints": [{"url": r.endpoint.url, "served_model": r.served_model, "root": r.root,
                           "server_version": r.version, "returns_token_ids": r.returns_token_ids} for r in self.reports],
        }

    def stats(self) -> list[EndpointStats]:
        with self._lock:
            return [EndpointStats(s.endpoint.url, s.alive, s.completed, s.failed, s.in_flight) for s in self._states]

    def close(self) -> None:
        pass  # no threads or connections outlive a generate call

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        if not requests:
            return []
        self._revive()
        call = _Call(list(requests))
        workers = []
        for state in self._states:
            if not state.alive:
                continue
            for _ in range(min(self.concurrency, len(requests))):
                t = threading.Thread(target=self._worker, args=(state, call), daemon=True)
                t.start()
                workers.append(t)
        with call.cond:
            while not call.stopped:
                with self._lock:
                    alive = any(s.alive for s in self._states)
                if not alive:
                    call.error = EvalkitError(self._all_down())
                    break
                call.cond.wait(0.2)
        for t in workers:
            t.join(timeout=0 if call.error else None)
        if call.error is not None:
            raise call.error
        return [r for r in call.results if r is not None]

    # ---- workers -----------------------------------------------------------------------------------------------

    def _worker(self, state: _EndpointState, call: _Call) -> None:
        conn = JsonConnection(state.endpoint, self.timeout)
        try:
            while not call.stopped and state.alive:
                wait = state.resume_at - time.monotonic()
                if wait > 0:
                    time.sleep(min(wait, 0.1))
                    continue
                try:
                    index, attempts = call.pending.get(timeout=0.1)
                except queue.Empty:
                    continue
                if call.stopped:
                    return
                if not state.alive or state.resume_at > time.monotonic():
                    call.pending.put((index, attempts))  # this endpoint failed meanwhile: leave it to the others
                    continue
                self._attempt(state, call, conn, index, attempts)
        finally:
            conn.close()

    def _attempt(self, state: _EndpointState, call: _Call, conn: JsonConnection, index: int, attempts: int) -> None:
        req = call.requests[index]
        with self._lock:
            state.in_flight += 1
        try:
            data = conn.call("POST", "/v1/completions", self._payload(req, state.served_model))
            result = self._result(req, data)
        except Transient as e:
            self._transient(state, call, index, attempts, str(e))
            return
        except Rejected as e:
            call.fail(EvalkitError(
                f"{state.endpoint.url} rejected a completion request ({e}): check --model, --max-model-len and the "
                "server's flags; evalkit does not retry requests a server refuses"
            ))
            return
        except EvalkitError as e:
            call.fail(e)
            return
        finally:
            with self._lock:
                state.in_flight -= 1
        with self._lock:
            state.completed += 1
            state.failures = 0
        call.done(index, result)

    def _transient(self, state: _EndpointState, call: _Call, index: int, attempts: int, error: str) -> None:
        now = time.monotonic()
        with self._lock:
            state.failed += 1
            state.failures += 1
            state.last_error = error
            state.resume_at = max(state.resume_at, now + min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (state.failures - 1)))
            probe = state.alive and state.failures >= PROBE_AFTER and not state.probing
            if probe:
                state.probing = True
        if attempts + 1 > self.retries:
            call.fail(EvalkitError(
                f"a completion request failed {attempts + 1} times, last on {state.endpoint.url} ({error}): check the "
                "server logs, or raise --retries; rows already written are kept, rerun the same command to resume"
            ))
            return
        with self._lock:
            self.requeued += 1
        call.pending.put((index, attempts + 1))
        if probe:
            healthy = _healthy(state.endpoint)
            with self._lock:
                state.probing = False
                if not healthy and state.alive:
                    state.alive = False
                    down = True
                else:
                    down = False
            if down:
                self.log(f"endpoint {state.endpoint.url} is not answering ({error}): taken out of rotation, its "
                         "requests go to the other endpoints")

    def _revive(self) -> None:
        for state in self._states:
            if not state.alive and _healthy(state.endpoint):
                with self._lock:
                    state.alive, state.failures, state.resume_at = True, 0, 0.0
                self.log(f"endpoint {state.endpoint.url} answers again: back in rotation")

    def _all_down(self) -> str:
        detail = "; ".join(f"{s.endpoint.url}: {s.last_error or 'down'}" for s in self._states)
        return (f"no endpoint is answering ({detail}): restart the server(s) and rerun the same command to resume "
                "(rows already written are kept)")

    # ---- wire format -------------------------------------------------------------------------------------------

    def _payload(self, r: GenRequest, model: str) -> dict[str, Any]:
        s = r.sampling
        body: dict[str, Any] = {
            "model": model, "prompt": list(r.prompt_ids), "max_tokens": max(1, r.max_tokens), "n": 1, "stream": False,
            "temperature": s.temperature, "top_p": 1.0 if s.greedy else s.top_p, "seed": r.seed,
            # Neutral values sent explicitly: a server may otherwise apply the model's generation_config defaults,
            # which the in-process engine does not.
            "repetition_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0, "min_p": 0.0,
            "stop": list(r.stop_strings), "stop_token_ids": list(r.stop_ids), "include_stop_str_in_output": True,
            "skip_special_tokens": False, "return_token_ids": True,
        }
        if s.top_k > 0:
            body["top_k"] = s.top_k
        return body

    def _result(self, req: GenRequest, data: Any) -> GenResult:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise Transient("completion response without choices")
        c = choices[0]
        ids = c.get("token_ids")
        if ids is None:
            if not self.retokenised:
                self.retokenised = True
                self.log("the server returns no token ids: evalkit re-tokenises its text, which can drift at budget "
                         "cuts (use a server that supports return_token_ids, e.g. a recent vLLM)")
            ids = self.tokenizer.encode(c.get("text") or "")
        ids = [int(i) for i in ids]
        reason = c.get("finish_reason")
        stop_reason = c.get("stop_reason", c.get("matched_stop"))
        eos = self.tokenizer.eos_ids
        if reason == "length":
            finish = "length"
        elif reason == "stop":
            # vLLM reports the model's EOS as stop_reason None; ids that only the model config names as EOS come
            # back as a stop id. Either is "eos" unless the caller asked to stop on that id.
            if stop_reason is None or (isinstance(stop_reason, int) and stop_reason in eos and stop_reason not in req.stop_ids):
                finish = "eos"
                if ids and ids[-1] in eos:
                    ids.pop()
            else:
                finish = "stop"
        else:
            raise Transient(f"finish_reason {reason!r}")
        return GenResult(tuple(ids), self.tokenizer.decode(ids), finish)


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


def _config_max_len(path: str | None) -> int:
    """The model's own context limit when no server reports one."""
    if path:
        try:
            from transformers import AutoConfig

            value = getattr(AutoConfig.from_pretrained(path), "max_position_embeddings", None)
            if value:
                return int(value)
        except Exception:
            pass
    raise EvalkitError("the server reports no max_model_len: pass --max-model-len with the server's context limit")

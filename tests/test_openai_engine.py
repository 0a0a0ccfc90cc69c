"""The openai engine's control logic against small fake OpenAI-compatible servers (stdlib HTTP, char-level model):
wire format, finish mapping, per-request delivery, retries with backoff, 4xx errors, load sharing, failover when a
replica dies, re-probing, and close().

The same engine against real vLLM servers is tested in test_openai_server.py and test_engine_contract.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import evalkit.engines.openai as openai_mod
import evalkit.engines.replicas as replicas_mod
from evalkit.config import EngineSpec
from evalkit.engines.base import ChatTokenizer
from evalkit.engines.http import Endpoint
from evalkit.engines.openai import OpenAIEngine
from evalkit.errors import EvalkitError
from evalkit.types import GenRequest, Sampling
from fakes import EOS, CharTokenizer, FakeEngine

GREEDY = Sampling(temperature=0.0, top_p=1.0)


def respond(prompt: str) -> str:
    """The fake model: echoes the last word of the prompt three times, then ends."""
    word = prompt.split()[-1] if prompt.split() else "x"
    return f"{word} {word} {word}."


class FakeServer:
    """An OpenAI-compatible completions server in a thread. `fail_next` holds HTTP statuses to answer before
    serving normally; `die_after` makes it crash (drop the connection, stop listening) on that completion; `down`
    makes it answer 503 to everything, health checks included, until cleared; `delay` is seconds per completion,
    or a function of the prompt text."""

    def __init__(self, model_id: str = "fake-model", delay=0.0, tokenize_shift: int = 0, return_ids: bool = True,
                 model=respond) -> None:
        self.model = FakeEngine(model)
        self.model_id, self.delay = model_id, delay
        self.die_after: int | None = None
        self.tokenize_shift, self.return_ids = tokenize_shift, return_ids
        self.fail_next: list[int] = []
        self.bodies: list[dict] = []
        self.served = 0
        self.active = self.peak = 0
        self.dead = False
        self.down = False
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if not self.dead:
            self.dead = True
            threading.Thread(target=lambda: (self.httpd.shutdown(), self.httpd.server_close()), daemon=True).start()

    def complete(self, body: dict) -> dict:
        req = GenRequest(tuple(body["prompt"]), body["max_tokens"], Sampling(body["temperature"], body.get("top_p", 1.0)),
                         body.get("seed", 0), tuple(body.get("stop_token_ids", ())), tuple(body.get("stop", ())))
        res = self.model.generate([req])[0]
        ids = list(res.token_ids)
        if res.finish == "eos":
            finish, stop_reason, ids = "stop", None, ids + [EOS]  # vLLM returns the EOS id and reports no reason
        elif res.finish == "stop":
            finish = "stop"
            stop_reason = ids[-1] if ids[-1] in req.stop_ids else next(s for s in req.stop_strings if res.text.endswith(s))
        else:
            finish, stop_reason = "length", None
        choice = {"index": 0, "text": res.text, "finish_reason": finish, "stop_reason": stop_reason}
        if self.return_ids:
            choice["token_ids"] = ids
        return {"choices": [choice]}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, payload) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if server.down:
                    self._send(503, {"error": {"message": "down"}})
                elif self.path == "/health":
                    self._send(200, {})
                elif self.path == "/v1/models":
                    self._send(200, {"data": [{"id": server.model_id, "root": f"/models/{server.model_id}", "max_model_len": 4096}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/tokenize":
                    self._send(200, {"tokens": [ord(c) + server.tokenize_shift for c in body["prompt"]]})
                    return
                with server.lock:
                    server.bodies.append(body)
                    status = server.fail_next.pop(0) if server.fail_next else 503 if server.down else 200
                    server.active += 1
                    server.peak = max(server.peak, server.active)
                    crash = server.die_after is not None and server.served >= server.die_after
                try:
                    prompt = "".join(chr(i) for i in body["prompt"])
                    time.sleep(server.delay(prompt) if callable(server.delay) else server.delay)
                    if crash:  # a killed process: the connection drops without an answer, the port closes
                        server.stop()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    if status != 200:
                        self._send(status, {"error": {"message": f"injected {status}", "code": status}})
                        return
                    out = server.complete(body)
                    with server.lock:
                        server.served += 1
                    self._send(200, out)
                finally:
                    with server.lock:
                        server.active -= 1

        return Handler


@pytest.fixture
def servers():
    made: list[FakeServer] = []

    def make(**kw) -> FakeServer:
        made.append(FakeServer(**kw))
        return made[-1]

    yield make
    for s in made:
        s.stop()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(replicas_mod, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(replicas_mod, "PROBE_TIMEOUT", 1.0)


_ENGINES: list[OpenAIEngine] = []


@pytest.fixture(autouse=True)
def close_engines():
    yield
    while _ENGINES:
        _ENGINES.pop().close()


def engine_for(*srvs: FakeServer, logs: list | None = None, **kw) -> OpenAIEngine:
    spec = EngineSpec(kind="openai", model="fake-model", endpoints=tuple(s.url for s in srvs), **kw)
    log = logs.append if logs is not None else (lambda m: None)
    _ENGINES.append(OpenAIEngine(spec, log=log, tokenizer=ChatTokenizer(CharTokenizer())))
    return _ENGINES[-1]


def workers(engine: OpenAIEngine) -> list[threading.Thread]:
    """The worker threads of this engine (engines of other tests may still be open)."""
    return [t for t in threading.enumerate() if t.name.startswith(engine.thread_prefix)]


def wait_for(cond, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def requests(engine: OpenAIEngine, n: int, max_tokens: int = 40) -> list[GenRequest]:
    return [GenRequest(tuple(engine.tokenizer.encode(f"say word{i}")), max_tokens, GREEDY, i) for i in range(n)]


def expected(reqs: list[GenRequest]):
    return FakeEngine(respond).generate(reqs)


def test_wire_format_is_token_level(servers):
    srv = servers()
    eng = engine_for(srv)
    tok = eng.tokenizer
    req = GenRequest(tuple(tok.encode("a b stop")), 7, Sampling(0.6, 0.9, 20), 42, stop_ids=(ord("!"),), stop_strings=("</think>",))
    eng.generate([req])
    body = srv.bodies[-1]
    assert body["prompt"] == list(req.prompt_ids) and body["max_tokens"] == 7 and body["seed"] == 42
    assert body["stop_token_ids"] == [ord("!")] and body["stop"] == ["</think>"]
    assert body["return_token_ids"] is True and body["include_stop_str_in_output"] is True
    assert body["skip_special_tokens"] is False and body["model"] == "fake-model"
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.6, 0.9, 20)
    assert eng.max_model_len == 4096


def test_finish_reasons_map_like_the_in_process_engine(servers):
    eng = engine_for(servers())
    tok = eng.tokenizer
    p = tuple(tok.encode("say cat"))
    eos, length, stop_id, stop_str = eng.generate([
        GenRequest(p, 100, GREEDY, 0), GenRequest(p, 5, GREEDY, 0),
        GenRequest(p, 100, GREEDY, 0, stop_ids=(ord(" "),)), GenRequest(p, 100, GREEDY, 0, stop_strings=("t c",)),
    ])
    assert (eos.finish, eos.text) == ("eos", "cat cat cat.") and EOS not in eos.token_ids
    assert (length.finish, length.text, len(length.token_ids)) == ("length", "cat c", 5)
    assert (stop_id.finish, stop_id.text) == ("stop", "cat ")
    assert (stop_str.finish, stop_str.text) == ("stop", "cat c")
    assert [r.token_ids for r in (eos, length, stop_id, stop_str)] == [r.token_ids for r in expected(
        [GenRequest(p, 100, GREEDY, 0), GenRequest(p, 5, GREEDY, 0),
         GenRequest(p, 100, GREEDY, 0, stop_ids=(ord(" "),)), GenRequest(p, 100, GREEDY, 0, stop_strings=("t c",))])]


def test_results_keep_request_order_under_concurrency(servers):
    srv = servers(delay=0.1)
    eng = engine_for(srv, concurrency=4)
    reqs = requests(eng, 16)
    assert eng.generate(reqs) == expected(reqs)
    assert srv.peak == 4, "requests ran concurrently, at most --concurrency of them per endpoint"


def test_5xx_and_429_are_retried(servers):
    srv = servers()
    eng = engine_for(srv)
    before = len(srv.bodies)
    srv.fail_next = [503, 500, 429]
    reqs = requests(eng, 1)
    assert eng.generate(reqs) == expected(reqs)
    assert len(srv.bodies) - before == 4  # three failures, then the answer
    assert eng.stats()[0].failed == 3 and eng.stats()[0].alive


def test_retries_run_out_with_a_clear_error(servers):
    srv = servers()
    eng = engine_for(srv, retries=2)
    srv.fail_next = [502] * 10
    with pytest.raises(EvalkitError, match=r"failed 3 times.*HTTP 502.*rerun the same command"):
        eng.generate(requests(eng, 1))


def test_4xx_fails_at_once_without_retries(servers):
    srv = servers()
    eng = engine_for(srv)
    before = len(srv.bodies)
    srv.fail_next = [400, 400, 400]
    with pytest.raises(EvalkitError, match=r"rejected a completion request \(HTTP 400: injected 400\)"):
        eng.generate(requests(eng, 1))
    assert len(srv.bodies) - before == 1


def test_4xx_fails_only_that_request(servers):
    srv = servers()
    eng = engine_for(srv, concurrency=1)  # one at a time: the first request sent gets the 400
    srv.fail_next = [400]
    reqs = requests(eng, 3)
    futures = [eng.submit(r) for r in reqs]
    with pytest.raises(EvalkitError, match=r"rejected a completion request \(HTTP 400"):
        futures[0].result(timeout=10)
    assert [f.result(timeout=10) for f in futures[1:]] == expected(reqs[1:])


def test_replicas_share_the_load(servers):
    a, b = servers(delay=0.02), servers(delay=0.02)
    eng = engine_for(a, b, concurrency=2)
    reqs = requests(eng, 24)
    assert eng.generate(reqs) == expected(reqs)
    done = [s.completed for s in eng.stats()]
    assert sum(done) == 24 and min(done) >= 6, done


def test_a_replica_dying_mid_call_loses_nothing(servers):
    a, b = servers(delay=0.03), servers(delay=0.03)
    logs: list[str] = []
    eng = engine_for(a, b, concurrency=3, logs=logs)
    b.die_after = b.served + 3  # after the start-up check, three answers, then a crash with requests in flight
    reqs = requests(eng, 30)
    assert eng.generate(reqs) == expected(reqs)
    sa, sb = eng.stats()
    assert not sb.alive and sb.completed >= 3 and sb.failed >= 1
    assert sa.completed + sb.completed == 30 and sa.alive
    assert eng.requeued >= 1
    assert any("taken out of rotation" in m for m in logs)
    # The next call does not wait for the dead replica.
    t0 = time.monotonic()
    assert eng.generate(reqs[:4]) == expected(reqs[:4])
    assert time.monotonic() - t0 < 2.0


def test_no_endpoint_left_fails_every_queued_and_in_flight_request(servers):
    a = servers()
    eng = engine_for(a, concurrency=2)
    a.die_after = 0
    futures = [eng.submit(r) for r in requests(eng, 6)]  # two in flight, four queued
    for f in futures:
        with pytest.raises(EvalkitError, match="no endpoint is answering.*restart the server"):
            f.result(timeout=20)
    assert eng.in_flight == 0


def test_each_request_is_delivered_as_it_finishes(servers):
    srv = servers(delay=lambda prompt: 1.5 if "slow" in prompt else 0.0)
    eng = engine_for(srv)
    tok = eng.tokenizer
    slow = eng.submit(GenRequest(tuple(tok.encode("say slow")), 40, GREEDY, 0))
    fast = eng.submit(GenRequest(tuple(tok.encode("say fast")), 40, GREEDY, 0))
    assert fast.result(timeout=1.0).text == "fast fast fast."
    assert not slow.done() and eng.in_flight == 1
    assert slow.result(timeout=5).text == "slow slow slow."


def test_a_faster_replica_takes_more(servers):
    quick, slow = servers(delay=0.01), servers(delay=0.3)
    eng = engine_for(quick, slow, concurrency=2)
    reqs = requests(eng, 40)
    assert eng.generate(reqs) == expected(reqs)
    q, s = (st.completed for st in eng.stats())
    assert q + s == 40 and q >= 2 * s, (q, s)


def test_capacity_is_live_endpoints_times_concurrency(servers):
    a, b = servers(delay=0.02), servers(delay=0.02)
    eng = engine_for(a, b, concurrency=3)
    assert eng.capacity == 6
    b.down = True
    reqs = requests(eng, 12)
    assert eng.generate(reqs) == expected(reqs)
    assert not eng.stats()[1].alive and eng.capacity == 3


def test_a_dead_replica_is_reprobed_and_rejoins(servers, monkeypatch):
    monkeypatch.setattr(replicas_mod, "REPROBE_S", 0.3)
    a, b = servers(delay=0.02), servers(delay=0.02)
    logs: list[str] = []
    eng = engine_for(a, b, concurrency=2, logs=logs)
    b.down = True
    reqs = requests(eng, 12)
    assert eng.generate(reqs) == expected(reqs)
    assert not eng.stats()[1].alive
    b.down = False
    # Back in rotation on its own, while the engine idles: no generate call is needed to notice.
    assert wait_for(lambda: eng.stats()[1].alive), "the supervisor re-probes a dead endpoint"
    assert any("answers again: back in rotation" in m for m in logs)
    before = eng.stats()[1].completed
    assert eng.generate(reqs) == expected(reqs)
    assert eng.stats()[1].completed > before


def test_close_stops_the_workers_and_fails_what_is_in_flight(servers):
    srv = servers(delay=lambda prompt: 30.0 if "slow" in prompt else 0.0)
    eng = engine_for(srv, concurrency=3)
    assert workers(eng) == [], "no worker before the first request"
    reqs = requests(eng, 4)
    assert eng.generate(reqs) == expected(reqs)
    assert len(workers(eng)) == 3
    slow = eng.submit(GenRequest(tuple(eng.tokenizer.encode("say slow")), 40, GREEDY, 0))
    assert wait_for(lambda: srv.active == 1)
    t0 = time.monotonic()
    eng.close()
    assert time.monotonic() - t0 < 15.0, "close cuts the request on the wire instead of waiting 30 s for it"
    with pytest.raises(EvalkitError, match="closed before this request was answered"):
        slow.result(timeout=0)
    assert workers(eng) == []
    # A closed engine starts its workers again on the next request.
    assert eng.generate(reqs) == expected(reqs)


def test_start_up_checks_model_and_tokenizer(servers):
    with pytest.raises(EvalkitError, match=r"model check failed: serves other-model, but the run expects 'fake-model'"):
        engine_for(servers(model_id="other-model"))
    with pytest.raises(EvalkitError, match=r"tokenizer check failed.*--tokenizer"):
        engine_for(servers(tokenize_shift=1))
    with pytest.raises(EvalkitError, match=r"reachable check failed.*Connection refused"):
        OpenAIEngine(EngineSpec(kind="openai", model="fake-model", endpoints=("127.0.0.1:1",)),
                     tokenizer=ChatTokenizer(CharTokenizer()))


def test_server_without_token_ids_falls_back_to_retokenising(servers):
    logs: list[str] = []
    eng = engine_for(servers(return_ids=False), logs=logs)
    reqs = requests(eng, 2)
    assert eng.generate(reqs) == expected(reqs)
    assert eng.retokenised and any("re-tokenises" in m for m in logs)


def test_endpoint_parsing_and_spec_errors():
    assert Endpoint.parse("127.0.0.1:8000").url == "http://127.0.0.1:8000"
    assert Endpoint.parse("http://host:9/v1/").url == "http://host:9"
    gw = Endpoint.parse("https://gw.example/llm/v1")
    assert (gw.url, gw.prefix, gw.port) == ("https://gw.example:443/llm", "/llm", 443)
    with pytest.raises(EvalkitError, match="not an http"):
        Endpoint.parse("ftp://x")
    with pytest.raises(EvalkitError, match="--engine openai needs --endpoint"):
        EngineSpec(kind="openai")
    with pytest.raises(EvalkitError, match="only applies to --engine openai"):
        EngineSpec(kind="vllm", endpoints=("http://x:1",))
    with pytest.raises(EvalkitError, match="lists a server twice"):
        OpenAIEngine(EngineSpec(kind="openai", endpoints=("x:1", "http://x:1/v1")), tokenizer=ChatTokenizer(CharTokenizer()))


def test_offload_puts_small_and_big_models_on_different_endpoints(servers, tmp_path, monkeypatch):
    """`offload-sim --engine openai --endpoint A --big-endpoint B`: the small model's calls go to A, the big
    model's spans to B, and the offload run completes on both."""
    from evalkit.offload_run import OffloadSpec, run_offload_sweep

    def thinker(letter: str):
        def respond(prompt: str) -> str:
            thought = prompt.split("<think>", 1)[1] if "<think>" in prompt else ""
            if "</think>" in thought:
                return "\\boxed{1}"
            return letter * max(1, 30 - len(thought)) + "</think>"

        return respond

    small, big = servers(model_id="fake-small", model=thinker("a")), servers(model_id="fake-big", model=thinker("B"))
    monkeypatch.setattr(openai_mod, "load_chat_tokenizer", lambda source, log=print: (ChatTokenizer(CharTokenizer()), None))
    spec = OffloadSpec(
        name="off", engine=EngineSpec(kind="openai", model="fake-small", endpoints=(small.url,)),
        big=EngineSpec(kind="openai", model="fake-big", endpoints=(big.url,)), benchmarks=("arith",),
        policies=("none", "random-0.5", "big"), thinking_budget=48, solution_budget=8, span=4,
        benchmark_options={"difficulty": 1, "count": 3, "seed": 0}, max_inflight=8, grade_workers=1, out_root=str(tmp_path),
    )
    before = (len(small.bodies), len(big.bodies))
    result = run_offload_sweep(spec)
    assert result.generated == 3 * 3
    assert len(small.bodies) > before[0] and len(big.bodies) > before[1]
    from evalkit.store import RunStore

    gens = {(g.problem_id, g.budget): g for g in RunStore(spec.run_dir).generations()}  # budget = policy label
    assert {k[1] for k in gens} == {"none", "random-0.5", "big"}
    for (pid, policy), g in gens.items():
        models = {seg.model for seg in g.segments}
        if policy == "none":
            assert models == {"small"} and "B" not in g.thinking_text
        if policy == "big":
            assert "big" in models and "B" in g.thinking_text

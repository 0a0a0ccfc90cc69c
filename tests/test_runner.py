"""The streaming runner's control logic on a timed fake engine: no barrier between groups, admission bounded by the
engine's capacity (or --max-inflight), rows on disk and graded as they finish, a crashing grader never stalls."""

from __future__ import annotations

import json
import threading
import time

from evalkit.config import EngineSpec, SweepSpec
from evalkit.engines.base import ChatTokenizer
from evalkit.engines.streaming import StreamingEngine
from evalkit.sweep import run_sweep
from evalkit.types import GenRequest, GenResult, Sampling
from fakes import CharTokenizer

SLOW = "d1-s0-0"  # the first arith problem thinks slowly


class TimedEngine(StreamingEngine):
    """Answers each request after its own delay, on a timer thread: a real streaming engine in miniature."""

    def __init__(self, capacity: int, slow_text: str, release_after: int = 0) -> None:
        self._init_stream()
        self.tokenizer = ChatTokenizer(CharTokenizer())
        self.max_model_len = 100_000
        self.name = "timed"
        self.capacity = capacity
        self.slow_text = slow_text
        self.peak = 0
        self._lock = threading.Lock()
        self._live = 0
        # The slow request answers once `release_after` other requests have (or after 30 s, should a barrier hold
        # the others back), then 0.5 s later: the order asserted below does not depend on the machine's load.
        self.release_after = release_after
        self._others = 0
        self._released = threading.Event()

    def identity(self) -> dict:
        return {"engine": "timed"}

    def close(self) -> None:
        self.close_stream()

    def _serve(self) -> None:
        while True:
            items = self._take(block=True)
            if items is None:
                return
            for req, fut in items:
                with self._lock:
                    self._live += 1
                    self.peak = max(self.peak, self._live)
                prompt = self.tokenizer.decode(req.prompt_ids)
                thinking = "</think>" not in prompt.split("<assistant>")[-1]
                slow = thinking and self.slow_text in prompt
                text = "abc</think>" if thinking else " \\boxed{1}"
                ids = tuple(ord(c) for c in text[: req.max_tokens])
                res = GenResult(ids, "".join(map(chr, ids)), "stop" if thinking else "eos")
                if slow:
                    threading.Thread(target=self._slow, args=(fut, res), daemon=True).start()
                else:
                    threading.Timer(0.01, self._done, args=(fut, res)).start()

    def _slow(self, fut, res) -> None:
        self._released.wait(30.0)
        time.sleep(0.5)
        self._done(fut, res, slow=True)

    def _done(self, fut, res, slow: bool = False) -> None:
        with self._lock:
            self._live -= 1
            if not slow:
                self._others += 1
                if self._others >= self.release_after:
                    self._released.set()
        self.generated_tokens += len(res.token_ids)
        fut.set_result(res)


def spec(tmp_path, **kw) -> SweepSpec:
    return SweepSpec(name="timed", engine=EngineSpec(model="timed"), benchmarks=("arith",), budgets=(4, 8, 16),
                     solution_budget=8, sampling=Sampling(temperature=0.0), out_root=str(tmp_path),
                     benchmark_options={"count": 12, "difficulty": 1, "seed": 0}, grade_workers=1, **kw)


def rows(tmp_path, name: str) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "timed" / name).read_text().splitlines()]


def test_groups_stream_past_a_slow_one_and_admission_stays_bounded(tmp_path):
    from evalkit.benchmarks import load_problems

    problems, _ = load_problems("arith", None, None, None, {"count": 12, "difficulty": 1, "seed": 0})
    slow = next(p for p in problems if p.id == SLOW)
    # 11 other problems x (1 thinking + 3 solutions) requests before the slow one answers
    engine = TimedEngine(capacity=4, slow_text=slow.metadata["statement"], release_after=11 * 4)
    result = run_sweep(spec(tmp_path), engine=engine)
    gens = rows(tmp_path, "generations.jsonl")
    assert result.generated == len(gens) == 12 * 3
    # No barrier: every other problem's rows were written while the slow one was still thinking.
    assert [g["problem_id"] for g in gens[-3:]] == [SLOW] * 3
    assert engine.peak <= 4 * 3  # at most `capacity` groups, each with at most its 3 solution requests at once
    grades = rows(tmp_path, "grades.jsonl")
    assert sorted((g["problem_id"], g["budget"]) for g in grades) == sorted((g["problem_id"], g["budget"]) for g in gens)
    timing = json.loads((tmp_path / "timed" / "run.json").read_text())["timing"]
    assert timing["generate_s"] >= 0.5 and timing["engine_idle_s"] < 0.5 * timing["generate_s"]


def test_max_inflight_caps_requests_in_flight(tmp_path):
    engine = TimedEngine(capacity=64, slow_text="never")
    run_sweep(spec(tmp_path, max_inflight=2), engine=engine)
    assert engine.peak == 2


def test_a_crashing_grader_gives_grader_errors_not_a_stall(tmp_path, monkeypatch):
    from evalkit.grading import dispatch

    def boom(self, items):
        raise RuntimeError("grader exploded")

    monkeypatch.setattr(dispatch.Grading, "grade", boom)
    result = run_sweep(spec(tmp_path), engine=TimedEngine(capacity=8, slow_text="never"))
    grades = rows(tmp_path, "grades.jsonl")
    assert result.generated == len(grades) == 36
    assert {g["status"] for g in grades} == {"grader_error"}
    assert "grader exploded" in grades[0]["detail"]

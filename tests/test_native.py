"""Control logic of `--strategy native` and `--close-text` on the character-level fake (each character one token).
The real engines force the budget in tests/test_native_engine.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import FakeEngine, drive, run_strategies

from evalkit.config import CLOSE_PRESETS, SweepSpec, EngineSpec, resolve_close_text
from evalkit.engines.hf import _ThinkingBudget
from evalkit.errors import EvalkitError
from evalkit.reasoning.budget import BudgetContext
from evalkit.reasoning.jobs import Job
from evalkit.reasoning.native import prompt_tail, probe_native, split_native
from evalkit.reasoning.strategies import budget_tokens
from evalkit.types import GenRequest, GenResult, Problem, Sampling

THINK = "a" * 50 + "</think>" + "the answer is 7"  # what the fake model writes after the prompt
S = 6


class NativeFake(FakeEngine):
    """Forces `forced_close` when thinking (counted from the prompt's last `<think>`, vLLM's rule) reaches the
    request's thinking_budget; `honour=False` plays an engine without a reasoning parser."""

    def __init__(self, text: str = THINK, honour: bool = True, forces: str | None = None) -> None:
        super().__init__(lambda prompt: text)
        self.honour, self.forces = honour, forces

    def generate(self, requests):
        out = []
        for r in requests:
            if r.thinking_budget is None or not self.honour:
                out += super().generate([r])
                self.calls.pop()  # recorded once, below
                continue
            text = self.respond(self.tokenizer.decode(r.prompt_ids))
            count = prompt_tail(self.tokenizer, r.prompt_ids)
            model = self.tokenizer.encode(text)
            close = self.tokenizer.encode(self.forces) if self.forces else list(r.forced_close)
            ids: list[int] = []
            while model and len(ids) < r.max_tokens:
                if count >= r.thinking_budget and "</think>" not in self.tokenizer.decode(ids):
                    ids += close[: r.max_tokens - len(ids)]
                    model = self.tokenizer.encode(text.split("</think>", 1)[1])
                    continue
                ids.append(model.pop(0))
                count += 1
            finish = "length" if len(ids) >= r.max_tokens else "eos"
            out.append(GenResult(tuple(ids), self.tokenizer.decode(ids), finish))
        self.calls.append(list(requests))
        return out


def _jobs(eng, budgets):
    p = Problem("p1", "arith", "math", "What is 3+4?", answer="7")
    return [Job(p, tuple(eng.tokenizer.chat_prompt_ids(p.prompt)), 0, budgets)]


def _ctx(**kw):
    return BudgetContext(solution_budget=S, sampling=Sampling(), seed=0, **kw)


def _native(eng, budgets, **kw):
    rows = run_strategies(eng, {"native": _jobs(eng, budgets)}, _ctx(**kw)).generations
    return {r.budget: r for r in rows}


def test_native_counts_thinking_itself_and_gives_the_solution_what_is_left():
    eng = NativeFake()
    close = len(eng.tokenizer.close_ids)
    rows = _native(eng, (10, 100))
    cut = rows["10"]
    assert (cut.thinking_tokens, cut.forced, cut.extra["engine_forced"], cut.extra["close_at"]) == (10, True, True, 10)
    assert cut.extra["appended_tokens"] == close and cut.solution_tokens == S  # exactly s tokens of room
    assert cut.extra["solution_allowance"] == S and not cut.extra["over_budget"]
    # The prompt ends in "<think>\n": the engine is sent t + 1, its own count of the "\n".
    assert cut.extra["engine_budget"] == 11 and prompt_tail(eng.tokenizer, eng.calls[0][0].prompt_ids) == 1
    free = rows["100"]  # the model closed after 50 + `</think>`: its solution gets t - k + s
    assert (free.thinking_tokens, free.forced, free.extra["close_at"]) == (50 + close, False, 50)
    assert free.extra["solution_allowance"] == 100 - 50 + S
    assert free.solution_text == "the answer is 7" and free.solution_finish == "eos"
    assert budget_tokens(free) == 100 + S
    assert len(eng.calls) == 1 and len(eng.calls[0]) == 2  # one request per budget, all at once


def test_an_engine_that_ignores_the_budget_is_over_budget():
    rows = _native(NativeFake(honour=False), (10,))
    row = rows["10"]
    assert row.extra["over_budget"] and not row.forced and row.thinking_tokens > 10


def test_split_native_reads_the_forced_close_only_where_the_budget_puts_it():
    tok = NativeFake().tokenizer
    close = tok.close_ids
    ids = tuple(tok.encode("abcd</think>xy"))
    assert split_native(tok, ids, 4, close).engine_forced
    early = split_native(tok, ids, 6, close)
    assert (early.engine_forced, early.close_at, early.over_budget, len(early.thinking)) == (False, 4, False, 12)
    late = split_native(tok, ids, 2, close)
    assert late.over_budget and late.close_at == 4
    never = split_native(tok, tuple(tok.encode("abcdefg")), 4, close)
    assert never.over_budget and never.close_at is None and never.solution == ()


def test_probe_passes_on_an_engine_that_forces_and_stops_on_one_that_does_not():
    ok = NativeFake()
    prompts = [job.prompt_ids for job in _jobs(ok, (8,))]
    probe_native(ok, prompts, ok.tokenizer.close_ids, "</think>")
    with pytest.raises(EvalkitError, match="ignored a thinking budget") as e:
        probe_native(NativeFake(honour=False), prompts, ok.tokenizer.close_ids, "</think>")
    assert "\n" not in str(e.value)
    qwen = resolve_close_text("qwen")
    with pytest.raises(EvalkitError, match="reasoning_end_str"):
        probe_native(NativeFake(forces="\n</think>"), prompts, tuple(ok.tokenizer.encode(qwen)), qwen)


def test_close_text_presets_and_errors():
    assert resolve_close_text("</think>") == "</think>"
    assert resolve_close_text("qwen") == CLOSE_PRESETS["qwen"] and CLOSE_PRESETS["qwen"].endswith(".</think>")
    assert resolve_close_text("sglang") == "\n</think>"
    with pytest.raises(EvalkitError, match="does not end in </think>"):
        resolve_close_text("Final answer:")
    spec = SweepSpec(name="x", engine=EngineSpec(), benchmarks=("arith",), budgets=(16,), close_text="qwen")
    assert spec.generation_fingerprint()["close_text"] == CLOSE_PRESETS["qwen"]
    assert "close_text" not in replace(spec, close_text="</think>").generation_fingerprint()


def test_elastic_and_s1_append_the_close_text_at_the_cut():
    eng = FakeEngine(lambda prompt: "a" * 50 + "</think>answer")
    jobs = _jobs(eng, (10,))
    text = CLOSE_PRESETS["qwen"]
    out = run_strategies(eng, {"elastic": jobs, "s1": jobs}, _ctx(close_text=text)).generations
    for row in out:
        assert row.forced and row.thinking_tokens == 10
        assert row.extra["appended_tokens"] >= len(text)
    solution_prompts = [r.prompt_ids for call in eng.calls for r in call if not r.stop_strings]
    assert solution_prompts and all(eng.tokenizer.decode(p).endswith("a" * 10 + text) or
                                    eng.tokenizer.decode(p).endswith(text + "\nFinal Answer:") for p in solution_prompts)
    elastic = next(r for r in out if r.strategy == "elastic")
    assert elastic.extra["solution_allowance"] == S


def test_hf_engine_budget_forces_like_vllm():
    # ids: 1 = <think>, 2 = </think>; the prompt opens thinking and holds one more token ("\n"), which counts.
    b = _ThinkingBudget(3, (9, 2), (1, 2), (5, 1, 7))
    assert [b.next(t) for t in (40, 41, 42, 43, 44)] == [40, 41, 9, 2, 44]
    closed = _ThinkingBudget(3, (2,), (1, 2), (1, 2, 7))  # thinking already closed in the prompt
    assert [closed.next(t) for t in (40, 41, 42, 43)] == [40, 41, 42, 43]
    own = _ThinkingBudget(3, (2,), (1, 2), (1,))
    assert [own.next(t) for t in (40, 2, 41, 42, 43)] == [40, 2, 41, 42, 43]  # the model closed first


def test_hf_budget_request_field_defaults_leave_other_strategies_alone():
    r = GenRequest((1, 2), 4, Sampling(), 0)
    assert r.thinking_budget is None and r.forced_close == ()
    assert _ThinkingBudget.of(r, (1, 2)) is None
    assert drive(NativeFake().agenerate([r]))[0].finish in ("length", "eos")


def test_openai_payload_names_the_budget_the_way_each_server_reads_it():
    from evalkit.engines.openai import OpenAIEngine

    eng = OpenAIEngine.__new__(OpenAIEngine)  # the wire format only; the live servers are in test_native_engine
    r = GenRequest((1, 2), 12, Sampling(), 0, thinking_budget=9, forced_close=(5,))
    assert eng._payload(r, "m", "vllm")["thinking_token_budget"] == 9
    sglang = eng._payload(r, "m", "sglang")
    assert sglang["custom_params"] == {"thinking_budget": 9} and "thinking_token_budget" not in sglang
    plain = eng._payload(replace(r, thinking_budget=None), "m", "vllm")
    assert "thinking_token_budget" not in plain and "custom_params" not in plain

"""Control logic of the truncate, s1 and prompt strategies and of the multi-strategy driver, on the character-level
fake engine (one character = one token). The real engine and demo model are in test_strategies_engine.py."""

import re

import pytest

from evalkit.config import EngineSpec, SweepSpec, parse_strategies
from evalkit.errors import EvalkitError
from evalkit.reasoning.budget import BudgetContext
from fakes import run_elastic
from evalkit.reasoning.jobs import Job
from evalkit.reasoning.strategies import (
    FINAL_ANSWER_CUE,
    StrategyOptions,
    budget_tokens,
    graded_text,
    s1_thinking,
    strip_close,
)
from evalkit.reasoning.budget import ThinkingPass
from evalkit.summary import summarize
from evalkit.types import Generation, GradeRecord, Problem, Sampling
from fakes import FakeEngine, run_strategies

CLOSE = "</think>"


def model(prompt: str) -> str:
    """'short' thinks 'abcde' then closes; 'long' never closes; 'eos' stops without closing. After `</think>` (or
    the s1 cue) it answers. Prompt strategies: 'Think for N tokens.' makes it think 3N characters (ignoring the
    instruction), 'Think for maximum N tokens.' makes it think N // 2 and close."""
    if CLOSE in prompt:
        return " \\boxed{7}" if "maximum" in prompt else " answer \\boxed{7}"
    m = re.search(r"Think for (maximum )?(\d+) tokens\.", prompt)
    if m:
        n = int(m.group(2))
        return ("y" * (n // 2) + CLOSE) if m.group(1) else "y" * (3 * n)
    if "long" in prompt:
        return "x" * 500 + " \\boxed{7}"
    if "eos" in prompt:
        return "thought \\boxed{7}"
    return "abcde" + CLOSE


def make_jobs(engine, budgets, names=("short", "long", "eos")):
    out = []
    for name in names:
        p = Problem(id=name, benchmark="t", kind="math", prompt=name, answer="7")
        out.append(Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt)), 0, budgets))
    return out


def ctx(share=True, s=20):
    return BudgetContext(solution_budget=s, sampling=Sampling(temperature=0.0), seed=1, share_thinking=share)


def rows(out):
    return {(g.strategy, g.problem_id, g.budget): g for g in out.generations}


def view(gens):
    return sorted((g.key, g.thinking_text, g.solution_text, g.thinking_tokens, g.solution_tokens, g.forced,
                   g.thinking_finish, g.solution_finish, g.seed, tuple(sorted(g.extra.items()))) for g in gens)


# --- strategy names and specs ---------------------------------------------------------------------------------


def test_strategy_parsing_and_spec():
    assert parse_strategies("elastic, truncate,s1,elastic") == ("elastic", "truncate", "s1")
    with pytest.raises(EvalkitError, match="unknown strategy 'vanilla'"):
        parse_strategies("elastic,vanilla")
    with pytest.raises(EvalkitError, match="--strategy is empty"):
        parse_strategies(" , ")
    base = dict(name="x", engine=EngineSpec(), benchmarks=("arith",), budgets=(16,))
    spec = SweepSpec(**base, strategy="truncate,s1")
    assert spec.strategy == ("truncate", "s1") and SweepSpec(**base).strategy == ("elastic",)
    assert SweepSpec.from_json(spec.to_json()) == spec
    assert SweepSpec.from_json({**SweepSpec(**base).to_json(), "strategy": "elastic"}).strategy == ("elastic",)
    with pytest.raises(EvalkitError, match="--min-thinking"):
        SweepSpec(**base, min_thinking=-1)
    with pytest.raises(EvalkitError, match="--prompt-cap"):
        SweepSpec(**base, prompt_cap=0.5)


def test_fingerprint_lets_a_run_gain_strategies_but_not_change_their_settings():
    base = dict(name="x", engine=EngineSpec(), benchmarks=("arith",), budgets=(16,))
    one = SweepSpec(**base).generation_fingerprint()
    assert SweepSpec(**base, strategy="elastic,truncate,s1,prompt").generation_fingerprint() == one
    assert SweepSpec(**base, strategy="elastic,s1", min_thinking=64).generation_fingerprint() != \
        SweepSpec(**base, strategy="elastic,s1", min_thinking=32).generation_fingerprint()
    assert SweepSpec(**base, strategy="elastic,prompt", prompt_cap=3).generation_fingerprint() != one
    # Settings of a strategy the run does not use change nothing.
    assert SweepSpec(**base, min_thinking=64, prompt_cap=3).generation_fingerprint() == one


# --- reading rows: graded text and allowance ---------------------------------------------------------------------


def gen(strategy, thinking_finish, thinking_text, solution_text, tb=16, sb=None):
    return Generation("t", "p", 0, strategy, str(tb), tb, sb, 10, 5, False, thinking_finish, "eos",
                      thinking_text, solution_text, 0)


def test_graded_text_rules():
    # truncate/prompt cut mid-thought: everything written is graded.
    assert graded_text(gen("truncate", "length", "so \\boxed{3", "")) == "so \\boxed{3"
    assert graded_text(gen("prompt", "eos", "\\boxed{3}", "")) == "\\boxed{3}"
    # the model closed thinking: only the answer after `</think>` counts, never a tentative one inside.
    assert graded_text(gen("truncate", "stop", "maybe \\boxed{3}</think>", " \\boxed{4}")) == " \\boxed{4}"
    # elastic and s1 always close thinking.
    assert graded_text(gen("elastic", "length", "\\boxed{3}", "x", sb=8)) == "x"
    assert graded_text(gen("s1", "length", "\\boxed{3}", "x", sb=8)) == "x"


def test_budget_allowance_per_strategy():
    assert budget_tokens(gen("elastic", "stop", "", "", tb=16, sb=8)) == 24
    assert budget_tokens(gen("s1", "stop", "", "", tb=16, sb=8)) == 24
    assert budget_tokens(gen("truncate", "stop", "", "", tb=16)) == 16
    assert budget_tokens(gen("prompt-max", "stop", "", "", tb=16)) == 16
    assert budget_tokens(gen("elastic", "stop", "", "", tb=None, sb=8)) is None
    assert budget_tokens(gen("offload", "stop", "", "", tb=16)) is None


# --- truncate ---------------------------------------------------------------------------------------------------


def test_truncate_never_exceeds_its_total_and_splits_at_the_models_close():
    eng = FakeEngine(model)
    out = run_strategies(eng, {"truncate": make_jobs(eng, (4, 13, 16, 64))}, ctx())
    by = rows(out)
    assert len(by) == 12
    for g in out.generations:
        assert g.total_tokens <= g.thinking_budget and g.solution_budget is None
        assert g.extra["appended_tokens"] == 0 and g.forced == (g.solution_finish == "length")
    cut_short = by[("truncate", "short", "4")]
    assert cut_short.forced and cut_short.thinking_text == "abcd" and cut_short.thinking_finish == "length"
    exact = by[("truncate", "short", "13")]  # closed with the last token of the budget: nothing after it
    assert exact.thinking_text == "abcde</think>" and exact.solution_tokens == 0 and exact.forced
    assert by[("truncate", "short", "16")].solution_text == " an" and by[("truncate", "short", "16")].forced
    full = by[("truncate", "short", "64")]
    assert full.solution_text == " answer \\boxed{7}" and not full.forced and full.solution_finish == "eos"
    assert graded_text(full) == " answer \\boxed{7}"
    long = by[("truncate", "long", "64")]
    assert long.thinking_tokens == 64 and long.solution_tokens == 0 and long.forced and graded_text(long) == "x" * 64
    eos = by[("truncate", "eos", "64")]
    assert eos.thinking_finish == "eos" and not eos.forced and graded_text(eos) == "thought \\boxed{7}"
    # One thinking call and one continuation call (after the model's own `</think>`) serve every budget.
    assert len(eng.calls) == 2 and len(eng.calls[1]) == 1


def test_truncate_shared_equals_from_scratch():
    budgets = (4, 13, 16, 64, None)
    a, b = FakeEngine(model, max_model_len=400), FakeEngine(model, max_model_len=400)
    shared = run_strategies(a, {"truncate": make_jobs(a, budgets)}, ctx(True))
    scratch = run_strategies(b, {"truncate": make_jobs(b, budgets)}, ctx(False))
    assert view(shared.generations) == view(scratch.generations)
    assert shared.generated_tokens < scratch.generated_tokens and len(a.calls) < len(b.calls)
    unc = rows(shared)[("truncate", "long", "unconstrained")]
    assert unc.total_tokens + unc.extra["prompt_tokens"] <= 400


# --- s1 ---------------------------------------------------------------------------------------------------------


def test_s1_inserts_wait_until_min_thinking_and_counts_it():
    eng = FakeEngine(model)
    out = run_strategies(eng, {"s1": make_jobs(eng, (64,), names=("short",))}, ctx(), StrategyOptions(min_thinking=12))
    g = out.generations[0]
    # 'abcde' (5) < 12: close removed, 'Wait' added; 'abcde' again: 5 + 4 + 5 = 14 >= 12, the close stands.
    assert g.thinking_text == "abcdeWaitabcde</think>"
    assert g.extra["waits"] == 1 and g.extra["wait_tokens"] == 4 and g.extra["suppressed_tokens"] == len(CLOSE)
    assert g.thinking_tokens == 5 + 5 + len(CLOSE) and not g.forced and g.extra["appended_tokens"] == 0
    assert g.solution_text == " answer \\boxed{7}"
    # thinking call, one Wait round, solution call
    assert len(eng.calls) == 3
    wait_prompt = eng.tokenizer.decode(eng.calls[1][0].prompt_ids)
    assert wait_prompt.endswith("<think>\nabcdeWait") and eng.calls[1][0].max_tokens == 64 - 9


def test_s1_eos_and_repeated_waits_and_forced_cue():
    eng = FakeEngine(model)
    out = run_strategies(eng, {"s1": make_jobs(eng, (16, 40))}, ctx(), StrategyOptions(min_thinking=30))
    by = rows(out)
    for g in out.generations:
        in_sequence = g.thinking_tokens + g.extra["wait_tokens"]
        assert in_sequence <= g.thinking_budget and g.solution_tokens <= 20
        assert g.extra["waits"] == g.thinking_text.count("Wait")
    s40 = by[("s1", "short", "40")]
    # abcde+Wait (9), abcde+Wait (18), abcde+Wait (27); then 'abcde</think>' fits the 13 tokens left, and
    # 27 + 5 >= 30, so the model's close stands.
    assert s40.extra["waits"] == 3 and s40.thinking_text.endswith("abcde</think>") and not s40.forced
    s16 = by[("s1", "short", "16")]  # t runs out in the second round: `</think>` and the cue are appended
    assert s16.forced and s16.extra["appended_tokens"] == len(CLOSE) + len(FINAL_ANSWER_CUE)
    assert len(s16.thinking_text) == 16 and s16.thinking_finish == "length"
    eos = by[("s1", "eos", "40")]  # an EOS before min-thinking is suppressed like a close
    assert eos.extra["waits"] >= 1 and eos.thinking_text.startswith("thought \\boxed{7}Wait")
    # the solution phase saw the cue right after `</think>`
    sol_prompts = [eng.tokenizer.decode(r.prompt_ids) for r in eng.calls[-1]]
    assert any(t.endswith(CLOSE + FINAL_ANSWER_CUE) for t in sol_prompts)


def test_s1_without_min_thinking_is_elastic_plus_cue():
    eng = FakeEngine(model)
    out = run_strategies(eng, {"s1": make_jobs(eng, (4, 64))}, ctx())
    el = run_elastic(FakeEngine(model), make_jobs(eng, (4, 64)), ctx())
    e = {(g.problem_id, g.budget): g for g in el.generations}
    for g in out.generations:
        assert g.extra["waits"] == 0
        assert g.thinking_text == e[(g.problem_id, g.budget)].thinking_text
        assert g.forced == e[(g.problem_id, g.budget)].forced


def test_s1_shared_equals_from_scratch():
    budgets = (8, 16, 27, 40, None)
    a, b = FakeEngine(model, max_model_len=300), FakeEngine(model, max_model_len=300)
    opts = StrategyOptions(min_thinking=30)
    shared = run_strategies(a, {"s1": make_jobs(a, budgets)}, ctx(True), opts)
    scratch = run_strategies(b, {"s1": make_jobs(b, budgets)}, ctx(False), opts)
    assert view(shared.generations) == view(scratch.generations)
    assert shared.generated_tokens < scratch.generated_tokens


def test_strip_close_handles_other_spellings():
    eng = FakeEngine(model)
    tok = eng.tokenizer
    assert strip_close(tok, tuple(tok.encode("abc</think>"))) == tuple(tok.encode("abc"))

    class Merged:  # a tokenizer that writes `</think>` inside a bigger token
        close_ids = (1000,)

        def decode(self, ids):
            return "".join({1: "ab", 2: "c</think>\n"}[i] for i in ids)

    assert strip_close(Merged(), (1, 2)) == (1,)


def test_s1_replay_needs_rounds_it_does_not_have():
    eng = FakeEngine(model)
    tok = eng.tokenizer
    first = ThinkingPass(tuple(tok.encode("abcde</think>")), "stop", 64)
    done, seq = s1_thinking(tok, [first], 64, 30, ())
    assert done is None and tok.decode(seq) == "abcdeWait"


# --- prompt (L1) ------------------------------------------------------------------------------------------------


def test_prompt_strategy_writes_n_and_respects_the_cap():
    eng = FakeEngine(model)
    jobs = make_jobs(eng, (8, 40), names=("short",))
    out = run_strategies(eng, {"prompt": jobs, "prompt-max": jobs}, ctx(), StrategyOptions(prompt_cap=2.0))
    by = rows(out)
    exact = by[("prompt", "short", "8")]
    assert exact.total_tokens == 16 and exact.forced and exact.extra["cap"] == 16  # 3N written, capped at 2N
    assert exact.extra["instruction"] == "Think for 8 tokens."
    mx = by[("prompt-max", "short", "40")]
    # the model closed after N // 2: the output goes on after its own `</think>`, under the same cap
    assert mx.thinking_text == "y" * 20 + CLOSE and mx.solution_text == " \\boxed{7}" and not mx.forced
    prompts = [eng.tokenizer.decode(r.prompt_ids) for r in eng.calls[0]]
    assert any("short Think for 8 tokens." in p for p in prompts)
    assert any("short Think for maximum 40 tokens." in p for p in prompts)
    for g in out.generations:
        assert g.total_tokens <= 2 * g.thinking_budget
    # adherence: 'prompt' overshoots N (16 > 8), 'prompt-max' stays within it (38 <= 40)
    grades = {g.key: GradeRecord.of(g, _ok()) for g in out.generations}
    summ = {(r.strategy, r.budget): r for r in summarize(out.generations, grades)}
    assert summ[("prompt", "8")].over_budget_rate == 1.0 and summ[("prompt", "8")].mean_budget_use == 2.0
    assert summ[("prompt-max", "40")].over_budget_rate == 0.0 and summ[("prompt-max", "40")].budget_tokens == 40
    assert summ[("prompt-max", "40")].mean_budget_use == pytest.approx(38 / 40)


def _ok():
    from evalkit.types import Verdict

    return Verdict(True, "ok", "7")


# --- several strategies at once ---------------------------------------------------------------------------------


def test_strategies_share_one_thinking_pass_and_elastic_is_unchanged():
    budgets = (4, 16, 64)
    eng = FakeEngine(model)
    jobs = make_jobs(eng, budgets)
    out = run_strategies(eng, {"elastic": jobs, "truncate": jobs, "s1": jobs}, ctx())
    alone_eng = FakeEngine(model)
    alone = run_elastic(alone_eng, make_jobs(alone_eng, budgets), ctx())
    assert view([g for g in out.generations if g.strategy == "elastic"]) == view(alone.generations)
    assert len(out.generations) == 3 * 3 * 3
    # one thinking call for all three strategies, then one call for everything after `</think>`
    assert len(eng.calls) == 2
    assert len(out.thinking_rows) == 3
    # s1 with no insertion and the model's own close sends elastic's solution request: generated once
    final = eng.calls[-1]
    assert len(final) == len(set(final))
    assert rows(out)[("s1", "short", "64")].solution_text == rows(out)[("elastic", "short", "64")].solution_text


def test_multi_strategy_shared_equals_from_scratch():
    budgets = (4, 16, 40, None)
    a, b = FakeEngine(model, max_model_len=300), FakeEngine(model, max_model_len=300)
    opts = StrategyOptions(min_thinking=12)
    work = lambda e: {s: make_jobs(e, budgets) for s in ("elastic", "truncate", "s1", "prompt")}
    shared = run_strategies(a, work(a), ctx(True), opts)
    scratch = run_strategies(b, work(b), ctx(False), opts)
    assert view(shared.generations) == view(scratch.generations)
    assert shared.generated_tokens < scratch.generated_tokens


def test_summary_adherence_columns():
    eng = FakeEngine(model)
    jobs = make_jobs(eng, (16, 64))
    out = run_strategies(eng, {"elastic": jobs, "truncate": jobs}, ctx(s=20))
    grades = {g.key: GradeRecord.of(g, _ok()) for g in out.generations}
    summ = {(r.strategy, r.budget): r for r in summarize(out.generations, grades)}
    tr = summ[("truncate", "16")]
    assert tr.budget_tokens == 16 and tr.over_budget_rate == 0.0 and tr.p95_budget_use <= 1.0
    el = summ[("elastic", "16")]
    used = [g.total_tokens / 36 for g in out.generations if g.strategy == "elastic" and g.budget == "16"]
    assert el.budget_tokens == 36 and el.mean_budget_use == pytest.approx(sum(used) / len(used))


@pytest.mark.parametrize("flags,message", [
    (["--strategy", "elastic,vanilla"], "unknown strategy 'vanilla'"),
    (["--strategy", "s1", "--min-thinking", "lots"], "budget 'lots'"),
    (["--strategy", "prompt", "--prompt-cap", "0.5"], "--prompt-cap must be >= 1"),
])
def test_cli_rejects_bad_strategy_flags_before_any_work(tmp_path, flags, message):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "evalkit", "sweep", "--budgets", "16", "--out", str(tmp_path), *flags],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr and not any(tmp_path.iterdir())

"""Control logic of elastic budgets on the character-level fake engine (the real engine is in test_sweep_engine)."""

from evalkit.reasoning.budget import BudgetContext, ThinkingPass, cut
from fakes import run_elastic
from evalkit.reasoning.jobs import Job
from evalkit.types import Problem, Sampling
from fakes import FakeEngine

CLOSE = tuple(ord(c) for c in "</think>")


def model(prompt: str) -> str:
    """Thinks 'abcdefghij' then closes; after </think> answers; a 'long' problem never closes."""
    if "</think>" in prompt:
        return " answer \\boxed{7}"
    if "long" in prompt:
        return "x" * 500
    if "eos" in prompt:
        return "thought"
    return "abcdefghij</think>"


def jobs(engine, budgets, names=("short", "long", "eos")):
    out = []
    for i, name in enumerate(names):
        p = Problem(id=name, benchmark="t", kind="math", prompt=name, answer="7")
        out.append(Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt)), 0, budgets))
    return out


def ctx(share=True, s=20):
    return BudgetContext(solution_budget=s, sampling=Sampling(temperature=0.0), seed=1, share_thinking=share)


def test_cut_rules():
    natural = ThinkingPass(tuple(range(12)), "stop", 100)
    assert cut(natural, 50, CLOSE).forced is False and cut(natural, 50, CLOSE).appended == ()
    forced = cut(natural, 5, CLOSE)
    assert forced.forced and forced.ids == tuple(range(5)) and forced.appended == CLOSE
    eos = cut(ThinkingPass((1, 2), "eos", 100), 50, CLOSE)
    assert not eos.forced and eos.appended == CLOSE and eos.finish == "eos"
    assert ThinkingPass((1,) * 10, "length", 10).serves(10) and not ThinkingPass((1,) * 10, "length", 10).serves(11)
    assert ThinkingPass((1,) * 3, "stop", 10).serves(10_000)


def test_budget_accounting_and_forcing():
    eng = FakeEngine(model)
    out = run_elastic(eng, jobs(eng, (4, 18, 64)), ctx())
    by = {(g.problem_id, g.budget): g for g in out.generations}
    assert len(by) == 9
    for g in out.generations:
        assert g.thinking_tokens <= g.thinking_budget
        assert g.solution_tokens <= 20
    assert by[("short", "4")].forced and by[("short", "4")].thinking_text == "abcd"
    assert by[("short", "18")].forced is False and by[("short", "18")].thinking_text == "abcdefghij</think>"
    assert by[("long", "64")].forced and by[("long", "64")].thinking_tokens == 64
    assert by[("eos", "64")].thinking_finish == "eos" and not by[("eos", "64")].forced
    # The solution phase continues from exactly the cut thinking plus the `</think>` encoding.
    phase2 = eng.calls[-1]
    prompt_texts = [eng.tokenizer.decode(r.prompt_ids) for r in phase2]
    assert any(t.endswith("<assistant><think>\nabcd</think>") for t in prompt_texts)
    assert all(r.max_tokens == 20 for r in phase2)


def test_shared_equals_unshared_and_is_one_pass():
    budgets = (4, 8, 16, None)
    shared_eng, scratch_eng = FakeEngine(model, max_model_len=400), FakeEngine(model, max_model_len=400)
    shared = run_elastic(shared_eng, jobs(shared_eng, budgets), ctx(True))
    scratch = run_elastic(scratch_eng, jobs(scratch_eng, budgets), ctx(False))
    strip = lambda gens: sorted((g.key, g.thinking_text, g.solution_text, g.forced, g.seed) for g in gens)
    assert strip(shared.generations) == strip(scratch.generations)
    assert len(shared_eng.calls) == 2  # one thinking call, one solution call
    assert len(scratch_eng.calls) == 2 * len(budgets)
    assert shared.generated_tokens < scratch.generated_tokens


def test_unconstrained_is_clipped_to_leave_room_for_the_solution():
    eng = FakeEngine(model, max_model_len=200)
    out = run_elastic(eng, jobs(eng, (None,), names=("long",)), ctx(s=20))
    g = out.generations[0]
    prompt_len = g.extra["prompt_tokens"]
    assert g.thinking_tokens + len(CLOSE) + 20 + prompt_len <= 200
    assert g.forced


def test_stored_pass_is_reused_on_resume():
    eng = FakeEngine(model)
    c = ctx()
    first = run_elastic(eng, jobs(eng, (4, 64)), c)
    calls = len(eng.calls)
    again = run_elastic(eng, jobs(eng, (8,)), c)  # a smaller budget than stored: no new thinking call
    assert len(eng.calls) == calls + 1 and not again.thinking_rows
    assert first.thinking_rows and all("token_ids" in r for r in first.thinking_rows)

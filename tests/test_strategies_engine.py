"""truncate, s1 and prompt strategies on the real vLLM engine and the real demo model (SmolLM2-135M), and one
three-strategy sweep over AIME24."""

import csv
import json

import pytest

from evalkit.benchmarks import load_problems
from evalkit.config import EngineSpec, SweepSpec
from evalkit.reasoning.budget import BudgetContext
from fakes import run_elastic
from evalkit.reasoning.jobs import Job
from evalkit.reasoning.strategies import WAIT, StrategyOptions, graded_text
from fakes import run_strategies
from evalkit.sweep import run_sweep
from evalkit.types import Problem, Sampling

from fakes import Spy

pytestmark = pytest.mark.engine

GREEDY = Sampling(temperature=0.0, top_p=1.0)
SOLUTION = 16
MIN_THINKING = 24


def jobs(engine):
    problems, _ = load_problems("arith", None, limit=3, options={"difficulty": 1, "count": 3, "seed": 0})
    # Short replies end (EOS) long before --min-thinking: the s1 "Wait" path must run on the real model.
    problems += [Problem(id=f"short{i}", benchmark="chat", kind="math", prompt=q, answer="1")
                 for i, q in enumerate(["Reply with one word: hello.", "Say yes."])]
    return [Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt)), 0, (16, 32)) for p in problems]


def test_each_strategys_accounting_and_forcing_rule(demo_engine):
    spy = Spy(demo_engine)
    tok = demo_engine.tokenizer
    wait = tuple(tok.encode(WAIT))
    js = jobs(spy)
    work = {s: js for s in ("elastic", "truncate", "s1", "prompt", "prompt-max")}
    ctx = BudgetContext(solution_budget=SOLUTION, sampling=GREEDY, seed=0)
    out = run_strategies(spy, work, ctx, StrategyOptions(min_thinking=MIN_THINKING, prompt_cap=2.0))
    by = {(g.strategy, g.problem_id, g.budget): g for g in out.generations}
    assert len(by) == 5 * len(js) * 2

    for g in out.generations:
        if g.strategy == "truncate":
            assert g.total_tokens <= g.thinking_budget, g  # never past its total
            assert g.extra["appended_tokens"] == 0
            if g.thinking_finish != "stop":  # never closed: nothing after it, and everything written is graded
                assert g.solution_tokens == 0 and graded_text(g) == g.thinking_text
        elif g.strategy in ("prompt", "prompt-max"):
            assert g.total_tokens <= 2 * g.thinking_budget and g.extra["cap"] == 2 * g.thinking_budget
        elif g.strategy == "s1":
            in_sequence = g.thinking_tokens + g.extra["wait_tokens"]
            assert in_sequence <= g.thinking_budget and g.solution_tokens <= SOLUTION
            assert g.extra["wait_tokens"] == g.extra["waits"] * len(wait)
            assert len(tok.encode(g.thinking_text)) >= in_sequence - 2 * g.extra["waits"]  # re-encoding may merge
            if not g.forced:  # the model's own ending stood: long enough, or no room for another "Wait"
                assert in_sequence >= MIN_THINKING or in_sequence + len(wait) >= g.thinking_budget
            else:
                assert g.thinking_finish == "length"
        else:
            assert g.thinking_tokens <= g.thinking_budget and g.solution_tokens <= SOLUTION

    # "Wait" really was inserted, and every insertion is counted: at the largest budget, each one sent a
    # continuation request whose prompt ends in "Wait".
    s1_big = [g for g in out.generations if g.strategy == "s1" and g.budget == "32"]
    assert sum(g.extra["waits"] for g in s1_big) > 0
    wait_requests = [r for call in spy.calls for r in call if tuple(r.prompt_ids[-len(wait):]) == wait]
    for job in js:
        mine = [r for r in wait_requests if tuple(r.prompt_ids[: len(job.prompt_ids)]) == job.prompt_ids]
        assert len(mine) == by[("s1", job.problem.id, "32")].extra["waits"]
    # prompt strategies wrote N into the prompt
    texts = [tok.decode(r.prompt_ids) for call in spy.calls for r in call]
    assert any("Think for 16 tokens." in t for t in texts) and any("Think for maximum 32 tokens." in t for t in texts)


def test_other_strategies_leave_elastic_rows_as_elastic_alone_writes_them(deterministic_engine):
    """Sharing one thinking pass with truncate and s1 changes the batches elastic's requests run in, never its rows
    (compared on the deterministic engine: on a batching one, a near-tie may break differently in another batch)."""
    eng = deterministic_engine
    js = jobs(eng)[2:]  # one arith problem and the two short replies: s1's "Wait" path runs too
    ctx = BudgetContext(solution_budget=SOLUTION, sampling=GREEDY, seed=0)
    shared = run_strategies(eng, {s: js for s in ("elastic", "truncate", "s1")}, ctx, StrategyOptions(min_thinking=MIN_THINKING))
    alone = run_elastic(eng, js, ctx)
    view = lambda gens: {g.key: (g.thinking_text, g.solution_text, g.forced, g.thinking_tokens, g.solution_tokens)
                         for g in gens if g.strategy == "elastic"}
    assert len(view(alone.generations)) == len(js) * 2
    assert view(shared.generations) == view(alone.generations)
    assert sum(g.extra["waits"] for g in shared.generations if g.strategy == "s1") > 0


def test_three_strategy_sweep_over_aime24(demo_engine, data_dir, tmp_path):
    spec = SweepSpec(
        name="aime3", engine=EngineSpec(model="smollm2-demo"), benchmarks=("aime24",), budgets=(16, 32),
        solution_budget=SOLUTION, strategy="elastic,truncate,s1", min_thinking=MIN_THINKING, sampling=GREEDY,
        limit=2, data_dir=str(data_dir), out_root=str(tmp_path),
    )
    result = run_sweep(spec, engine=demo_engine)
    run = tmp_path / "aime3"
    assert result.generated == 2 * 2 * 3 and result.graded == 12
    with open(run / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["strategy"], r["budget"]) for r in rows] == [
        ("elastic", "16"), ("elastic", "32"), ("s1", "16"), ("s1", "32"), ("truncate", "16"), ("truncate", "32")]
    by = {(r["strategy"], r["budget"]): r for r in rows}
    assert by[("truncate", "32")]["budget_tokens"] == "32" and by[("s1", "32")]["budget_tokens"] == str(32 + SOLUTION)
    for r in rows:  # none of these strategies can go past its allowance
        assert float(r["over_budget_rate"]) == 0.0 and 0 < float(r["p95_budget_use"]) <= 1.0
    assert (run / "plots" / "aime24_accuracy_vs_tokens.png").stat().st_size > 0
    svg = (run / "plots" / "aime24_accuracy_vs_tokens.svg").read_text()
    assert all(f"({s})" in svg for s in ("elastic", "truncate", "s1"))  # one legend entry per strategy
    # one shared thinking pass per problem served all three strategies
    assert len((run / "thinking.jsonl").read_text().splitlines()) == 2
    gens = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]
    assert sorted({g["strategy"] for g in gens}) == ["elastic", "s1", "truncate"]

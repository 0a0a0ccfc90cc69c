"""A multi-strategy sweep end to end (run directory, summary, plot, resume) on the fake engine; the same on the
real engine and AIME24 is in test_strategies_engine.py."""

import csv
import json

from evalkit.config import EngineSpec, SweepSpec
from evalkit.sweep import missing_points, plan_missing, run_sweep
from evalkit.types import Sampling
from fakes import FakeEngine


def model(prompt: str) -> str:
    if "</think>" in prompt:
        return " so \\boxed{3}"
    return "ok</think>" if "Think for" not in prompt else "hmm " * 20


def spec(tmp_path, strategy, **kw):
    return SweepSpec(
        name="multi", engine=EngineSpec(model="fake"), benchmarks=("arith",), budgets=(8, 24), solution_budget=16,
        strategy=strategy, sampling=Sampling(temperature=0.0), limit=3, out_root=str(tmp_path),
        benchmark_options={"count": 3, "difficulty": 1, "seed": 0}, grade_workers=1, **kw,
    )


def summary(tmp_path):
    with open(tmp_path / "multi" / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_three_strategies_one_summary_one_plot_then_resume_with_more(tmp_path):
    eng = FakeEngine(model)
    first = spec(tmp_path, "elastic,truncate,s1", min_thinking=12)
    result = run_sweep(first, engine=eng)
    assert result.generated == 3 * 2 * 3
    rows = summary(tmp_path)
    assert {(r["strategy"], r["budget"]) for r in rows} == {(s, b) for s in ("elastic", "truncate", "s1") for b in ("8", "24")}
    cols = list(rows[0])  # adherence columns stay together, in order; later additions go after them
    at = cols.index("budget_tokens")
    assert cols[at:at + 4] == ["budget_tokens", "mean_budget_use", "p95_budget_use", "over_budget_rate"]
    by = {(r["strategy"], r["budget"]): r for r in rows}
    assert by[("truncate", "24")]["budget_tokens"] == "24" and by[("elastic", "24")]["budget_tokens"] == "40"
    assert all(float(r["over_budget_rate"]) == 0.0 for r in rows)
    assert [p.name for p in result.plots] == ["arith_accuracy_vs_tokens.png", "arith_accuracy_vs_tokens.svg"]
    # one shared thinking pass per problem served all three strategies
    thinking = (tmp_path / "multi" / "thinking.jsonl").read_text().splitlines()
    assert len(thinking) == 3
    gens = [json.loads(line) for line in (tmp_path / "multi" / "generations.jsonl").read_text().splitlines()]
    s1 = [g for g in gens if g["strategy"] == "s1" and g["budget"] == "24"]
    assert all(g["extra"]["waits"] >= 1 for g in s1)
    # grading: truncate cut before `</think>` has no answer; after it, the answer is graded
    grades = {(g["strategy"], g["problem_id"], g["budget"]): g for g in
              (json.loads(line) for line in (tmp_path / "multi" / "grades.jsonl").read_text().splitlines())}
    assert all(g["status"] == "no_answer" for k, g in grades.items() if k[0] == "truncate" and k[2] == "8")
    assert all(g["extracted"] == "3" for k, g in grades.items() if k[0] == "truncate" and k[2] == "24")

    # The same run may gain a strategy: only its rows are generated, nothing is redone.
    sent = sum(len(c) for c in eng.calls)
    more = spec(tmp_path, "elastic,truncate,s1,prompt", min_thinking=12)
    again = run_sweep(more, engine=eng)
    assert again.generated == 3 * 2
    assert {r["strategy"] for r in summary(tmp_path)} == {"elastic", "truncate", "s1", "prompt"}
    # Only the prompt strategy's own passes (3 problems x 2 budgets; they never close: nothing to continue).
    assert sum(len(c) for c in eng.calls) == sent + 3 * 2
    prompt_rows = {r["budget"]: r for r in summary(tmp_path) if r["strategy"] == "prompt"}
    assert float(prompt_rows["8"]["over_budget_rate"]) == 1.0  # 'hmm ' x 20 ignores "Think for 8 tokens."
    assert run_sweep(more, engine=eng).generated == 0


def test_planning_per_strategy(tmp_path):
    sp = spec(tmp_path, "elastic,truncate")
    from evalkit.sweep import load_all_problems

    problems, _ = load_all_problems(sp)
    p0 = problems["arith"][0]
    done = {("arith", p0.id, 0, "elastic", "8"), ("arith", p0.id, 0, "elastic", "24"), ("arith", p0.id, 0, "truncate", "8")}
    plan = {p.id: miss for p, _, miss in plan_missing(sp, problems, done)}
    assert plan[p0.id] == {"truncate": (24,)}
    assert all(m == {"elastic": (8, 24), "truncate": (8, 24)} for pid, m in plan.items() if pid != p0.id)
    assert [(p.id, m) for p, _, m in missing_points(sp, problems, done, "truncate")][0] == (p0.id, (24,))
    assert p0.id not in {p.id for p, _, _ in missing_points(sp, problems, done)}  # default: the first strategy


def test_runs_written_before_strategies_were_growable_resume(tmp_path):
    eng = FakeEngine(model)
    sp = spec(tmp_path, "elastic")
    run_sweep(sp, engine=eng)
    info_path = tmp_path / "multi" / "run.json"
    info = json.loads(info_path.read_text())
    info["fingerprint"]["strategy"] = "elastic"  # what older run.json files hold
    info_path.write_text(json.dumps(info))
    assert run_sweep(spec(tmp_path, "elastic,truncate"), engine=eng).generated == 3 * 2

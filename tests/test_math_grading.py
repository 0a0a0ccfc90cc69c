"""math-verify grading in worker processes: agreement with the staged equivalence suite, statuses, hard kill."""

import json
import time

import pytest

from evalkit.grading.math import MathGrader
from evalkit.grading.workers import HardTimeoutPool, TaskFailure

# Minimum agreement with the suite's expected labels on its `math` cases with default settings. Every
# disagreement is printed (pytest -s); they are conventions of other graders (SkyThought's numeric tolerance,
# bare letters for multiple choice) or of math-verify's own match-type settings that evalkit does not switch.
MIN_AGREEMENT = 0.92


@pytest.fixture(scope="module")
def grader():
    g = MathGrader(workers=2, timeout=20)
    yield g
    g.close()


def default_math_cases(data_dir):
    rows = [json.loads(line) for line in open(data_dir / "grading-suites" / "math_equiv_pairs.jsonl")]
    return [r for r in rows if r["category"] == "math" and not r["extra_params"]]


def test_agreement_with_equivalence_suite(data_dir, grader):
    cases = default_math_cases(data_dir)
    verdicts = grader.grade([(r["gold"], r["pred"]) for r in cases])
    disagree = [(r, v) for r, v in zip(cases, verdicts) if v.correct != r["expected_equal"]]
    print(f"\nmath grading agreement: {len(cases) - len(disagree)}/{len(cases)}")
    for r, v in disagree:
        print(f"  {r['pair_id']} gold={r['gold']!r} pred={r['pred'][:60]!r} expected={r['expected_equal']} got={v.status}")
    by_repo = {}
    for r, v in zip(cases, verdicts):
        ok, n = by_repo.get(r["source_repo"], (0, 0))
        by_repo[r["source_repo"]] = (ok + (v.correct == r["expected_equal"]), n + 1)
    assert (len(cases) - len(disagree)) / len(cases) >= MIN_AGREEMENT
    # Math-Verify's own cases are the reference for the library evalkit uses: nearly all must agree.
    ok, n = by_repo["huggingface/Math-Verify"]
    assert ok / n >= 0.95, by_repo


def test_statuses(grader):
    v = grader.grade([
        ("025", "so the answer is \\boxed{25}"),
        ("\\frac{1}{2}", "The answer is $0.5$."),
        ("7", "The answer is \\boxed{8}"),
        ("7", "I do not know"),
    ])
    assert [x.status for x in v] == ["ok", "ok", "wrong", "no_answer"]
    assert v[0].correct and v[0].extracted == "25" and not v[2].correct


def _sleepy(item):
    time.sleep(item)
    return item


def test_hard_timeout_kills_and_replaces_worker():
    with HardTimeoutPool("tests.test_math_grading:_sleepy", workers=2, timeout=1.0) as pool:
        t0 = time.monotonic()
        out = pool.map([0, 30, 0, 0, 30, 0.1])
        assert time.monotonic() - t0 < 15
        assert out[0] == 0 and out[2] == 0 and out[3] == 0 and out[5] == 0.1
        assert isinstance(out[1], TaskFailure) and out[1].kind == "timeout"
        assert isinstance(out[4], TaskFailure) and out[4].kind == "timeout"
        assert pool.map([0.0]) == [0.0]  # replaced workers keep serving

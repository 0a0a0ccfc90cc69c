"""Every staged gold answer of the math benchmarks, boxed the way a model writes it, grades `ok` against itself.

A gold math-verify cannot read makes its problem unwinnable for every model, and the cause hides in `detail`
(MATH-500's money answers such as `\\$18.90` did this to 3 of 500 problems). This runs the real MathGrader in
worker processes over the real staged files, loaded through evalkit's own benchmark loaders.
"""

from collections import Counter

import pytest

from evalkit.benchmarks import get_benchmark, load_problems
from evalkit.grading.math import MathGrader

BENCHMARKS = ("math500", "aime24", "aime25", "amc23")


@pytest.fixture(scope="module")
def grader():
    g = MathGrader(workers=3, timeout=20)
    yield g
    g.close()


def test_every_staged_gold_grades_ok_against_itself(data_dir, grader):
    problems = [p for name in BENCHMARKS for p in load_problems(name, str(data_dir))[0]]
    verdicts = grader.grade([(p.answer or "", f"\\boxed{{{p.answer}}}") for p in problems])
    counts = {name: Counter() for name in BENCHMARKS}
    for p, v in zip(problems, verdicts):
        counts[p.benchmark][v.status] += 1
    print("\ngold self-grading: " + "; ".join(f"{b} {c['ok']}/{sum(c.values())} ok" for b, c in counts.items()))
    for b in BENCHMARKS:
        assert sum(counts[b].values()) == get_benchmark(b).expected_count, (b, counts[b])
    bad = [(p.benchmark, p.id, p.answer, v.status, v.detail) for p, v in zip(problems, verdicts) if v.status != "ok"]
    assert not bad, bad
    # each gold was read as math, not kept as raw text that only an identical string could match
    as_text = [(p.benchmark, p.answer) for p, v in zip(problems, verdicts) if v.detail]
    assert not as_text, as_text

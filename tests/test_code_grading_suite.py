"""evalkit's code grader against the official LiveCodeBench grader's labels on the staged grading suite.

Every row whose label the staged tests can reproduce must agree (see evalkit.grading.lcb_suite for which rows
those are). The time limit is scaled down to 1.5 s per test to keep CI short: every accepted solution in the suite
uses well under 0.1 s of CPU per test, and every time-limit label is an endless or hopeless program, so the labels
do not depend on it; bench/code_grading.py grades the suite with the official 6 s limit.
"""

from __future__ import annotations

from collections import Counter

from evalkit.grading.code import CodeGrader
from evalkit.grading.lcb_suite import load_suite


def test_agrees_with_official_labels_on_every_reproducible_row(data_dir):
    rows = load_suite(data_dir)
    assert len(rows) == 412
    grader = CodeGrader(workers=3, time_scale=0.25)
    try:
        verdicts = grader.grade_programs([(r.problem, r.code) for r in rows])
    finally:
        grader.close()
    counts = Counter((r.reproducible, v.correct == r.expected_pass) for r, v in zip(rows, verdicts))
    disagreements = [
        f"{r.problem.id}: official {'pass' if r.expected_pass else 'fail'}, evalkit {v.status} ({v.detail[:120]})"
        for r, v in zip(rows, verdicts) if r.reproducible == "yes" and v.correct != r.expected_pass
    ]
    assert not disagreements, "\n".join(disagreements)
    assert counts[("yes", True)] == 371  # 12 fully tested rows + 135 pass + 224 public-test fail labels
    # Labels decided by unstaged private tests: evalkit must not invent failures on the tests it has.
    assert all(v.status in ("accepted", "wrong_answer", "runtime_error", "time_limit", "compile_error", "no_code")
               for v in verdicts)
    statuses = Counter(v.status for v in verdicts)
    assert statuses["time_limit"] >= 10 and statuses["runtime_error"] >= 20 and statuses["compile_error"] >= 1

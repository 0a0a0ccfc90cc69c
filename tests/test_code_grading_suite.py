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


def test_fixture_suite_labels_and_reproducibility(fixture_data):
    """The same suite layout on tests/fixtures/data: hand-written programs whose labels are known by construction."""
    rows = load_suite(fixture_data)
    assert [(r.problem.id, r.expected_pass, r.reproducible) for r in rows] == [
        ("xyz101_a", True, "yes"), ("xyz101_a", False, "yes"), ("xyz102_a", False, "yes"), ("xyz103_b", True, "yes"),
        ("xyz103_b", False, "yes"), ("9001_A", True, "yes"), ("xyz301_b", False, "yes"), ("3001", True, "yes"),
        ("3002", False, "no"), ("3001", False, "undetermined"), ("3002", False, "no"),
    ]
    grader = CodeGrader(workers=2, time_scale=0.25)
    try:
        verdicts = grader.grade_programs([(r.problem, r.code) for r in rows])
    finally:
        grader.close()
    assert [v.status for v in verdicts[:9]] == [
        "accepted", "wrong_answer", "wrong_answer", "accepted", "wrong_answer",  # fails on private "0" and "999"
        "accepted", "wrong_answer", "accepted",
        "accepted",  # labelled fail by a private test that is not staged: evalkit must not invent a failure
    ]
    assert verdicts[9].status == "compile_error"

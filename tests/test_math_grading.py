"""math-verify grading in worker processes: agreement with the staged equivalence suite, statuses, hard kill."""

import json
import time

import pytest

from evalkit.grading.math import MathGrader, gold_text
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


# Gold forms of MATH-500 (money with an escaped dollar, thousands separators, units, degrees, words) against the
# answers a model writes for them: equal ones must be `ok`, and near misses must stay `wrong`.
GOLD_FORMS = [
    ("\\$18.90", "\\boxed{18.90}", "ok"),
    ("\\$18.90", "\\boxed{\\$18.90}", "ok"),
    ("\\$18.90", "\\boxed{18.9}", "ok"),
    ("\\$18.90", "The answer is $\\$18.90$.", "ok"),
    ("\\$18.90", "\\boxed{18.80}", "wrong"),
    ("\\$18.90", "\\boxed{1890}", "wrong"),
    ("\\$36", "\\boxed{36}", "ok"),
    ("\\$36", "\\boxed{\\$36.00}", "ok"),
    ("\\$36", "\\boxed{3.6}", "wrong"),
    ("\\$32,\\!348", "\\boxed{32348}", "ok"),
    ("\\$32,\\!348", "\\boxed{32,348}", "ok"),
    ("\\$32,\\!348", "\\boxed{\\$32,\\!348}", "ok"),
    ("\\$32,\\!348", "\\boxed{32347}", "wrong"),
    ("\\$32,\\!348", "\\boxed{32.348}", "wrong"),
    ("\\$32,\\!348", "\\boxed{32}", "wrong"),
    ("11,\\! 111,\\! 111,\\! 100", "\\boxed{11111111100}", "ok"),
    ("11,\\! 111,\\! 111,\\! 100", "\\boxed{11111111101}", "wrong"),
    ("1,000", "\\boxed{1000}", "ok"),
    ("1,000", "\\boxed{1,000}", "ok"),
    ("1,000", "\\boxed{1}", "wrong"),
    ("58,500", "\\boxed{58.5}", "wrong"),
    ("5\\text{ cm}", "\\boxed{5}", "ok"),
    ("5\\text{ cm}", "\\boxed{5 \\text{ cm}}", "ok"),
    ("5\\text{ cm}", "\\boxed{6\\text{ cm}}", "wrong"),
    ("864 \\mbox{ inches}^2", "\\boxed{864}", "ok"),
    ("864 \\mbox{ inches}^2", "\\boxed{864 \\text{ square inches}}", "ok"),
    ("864 \\mbox{ inches}^2", "\\boxed{865}", "wrong"),
    ("15\\mbox{ cm}^2", "\\boxed{15}", "ok"),
    ("15\\mbox{ cm}^2", "\\boxed{225}", "wrong"),
    ("\\frac{270}7\\text{ degrees}", "\\boxed{\\frac{270}{7}}", "ok"),
    ("\\frac{270}7\\text{ degrees}", "\\boxed{\\frac{270}{8}}", "wrong"),
    ("90^\\circ", "\\boxed{90}", "ok"),
    ("90^\\circ", "\\boxed{90^{\\circ}}", "ok"),
    ("90^\\circ", "\\boxed{91^\\circ}", "wrong"),
    ("\\text{Evelyn}", "\\boxed{Evelyn}", "ok"),
    ("\\text{Evelyn}", "\\boxed{\\text{Navin}}", "wrong"),
    ("\\text{(C)}", "\\boxed{C}", "ok"),
    ("\\text{(C)}", "\\boxed{(D)}", "wrong"),
]


def test_gold_forms_against_natural_answers(grader):
    verdicts = grader.grade([(gold, pred) for gold, pred, _ in GOLD_FORMS])
    got = [(gold, pred, v.status) for (gold, pred, _), v in zip(GOLD_FORMS, verdicts)]
    assert got == GOLD_FORMS


def test_gold_text_wraps_escaped_dollars_and_keeps_real_delimiters():
    assert gold_text("\\$18.90") == "$\\$18.90$"  # an escaped dollar is money, not math mode
    assert gold_text(" 025 ") == "$025$"
    for delimited in ("$\\frac{1}{2}$", "\\boxed{3}", "\\(x\\)", "\\[x\\]", "$\\$5$"):
        assert gold_text(delimited) == delimited


def test_unparseable_gold_is_a_grader_error_shown_in_the_summary(grader, tmp_path, monkeypatch):
    golds = ["", "\\text{}", "\\$"]
    verdicts = grader.grade([(g, "\\boxed{1}") for g in golds])
    assert [v.status for v in verdicts] == ["grader_error"] * 3
    assert not any(v.correct for v in verdicts)
    assert all("gold answer" in v.detail and "could not be parsed" in v.detail for v in verdicts)

    # counted in summary.csv and named under the printed table, beside an honestly wrong answer
    from io import StringIO

    from rich.console import Console

    import evalkit.cli.output as cli_output
    from evalkit.store import SUMMARY
    from evalkit.summary import read_summary, summarize, write_summary
    from evalkit.types import Generation, GradeRecord

    wrong = grader.grade([("7", "\\boxed{8}")])[0]
    gens = [
        Generation("math500", f"p{i}", 0, "elastic", "1k", 1024, 256, 10, 5, False, "stop", "eos", "", "", 0)
        for i in range(4)
    ]
    grades = {g.key: GradeRecord.of(g, v) for g, v in zip(gens, [*verdicts, wrong])}
    (row,) = summarize(gens, grades)
    assert (row.errors, row.timeout, row.no_answer, row.pass1) == (3, 0, 0, 0.0)
    write_summary([row], tmp_path / SUMMARY)
    assert read_summary(tmp_path / SUMMARY)[0]["errors"] == "3"
    printed = StringIO()
    monkeypatch.setattr(cli_output, "out", Console(file=printed, width=200))
    cli_output.print_summary(tmp_path)
    assert "not graded: 3 grader errors, 0 grading timeouts" in printed.getvalue()

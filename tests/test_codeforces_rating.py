"""CodeElo-style rating on hand-built standings whose answers can be worked out on paper."""

from __future__ import annotations

import json
import math

import pytest

from evalkit.errors import EvalkitError
from evalkit.grading.codeforces_rating import (
    ProblemResult, contest_rating, expected_seed, load_standing, overall, percentile, rating_for_rank,
    results_from_grades,
)


def write(tmp_path, name, data):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return load_standing(path)


def test_rank_two_among_three_equal_humans(tmp_path):
    # humans 1500/1500/1500 solve 3, 1, 0; the model solves 2 -> rank 2 -> 1 + 3/(1+10^x) = 2 -> 10^x = 2
    st = write(tmp_path, "c1", {"contest_id": "c1", "scoring": "icpc", "rows": [
        {"handle": "a", "rating": 1500, "score": 3, "penalty": 50},
        {"handle": "b", "rating": 1500, "score": 1, "penalty": 10},
        {"handle": "c", "rating": 1500, "score": 0, "penalty": 0}]})
    res = contest_rating(st, {"A": ProblemResult(True), "B": ProblemResult(True), "C": ProblemResult(False, 8)})
    assert res.rank == 2 and res.score == 2
    assert res.rating == pytest.approx(1500 + 400 * math.log10(2), abs=1e-6)  # 1620.41


def test_tie_takes_the_middle_place_and_failed_attempts_cost_penalty(tmp_path):
    rows = [{"handle": "a", "rating": 1500, "score": 2, "penalty": 0},
            {"handle": "b", "rating": 1500, "score": 1, "penalty": 20}]
    st = write(tmp_path, "c2", {"scoring": "icpc", "rows": rows})
    # one solve after 2 failed attempts: penalty 20, tied with b -> places 2..3 -> rank 2.5
    res = contest_rating(st, {"A": ProblemResult(True, 2)})
    assert res.penalty == 20 and res.rank == 2.5
    # 1 + 2/(1+10^x) = 2.5 -> 10^x = 1/3
    assert res.rating == pytest.approx(1500 - 400 * math.log10(3), abs=1e-6)
    # a cleaner solve beats b on penalty -> rank 2 -> 1 + 2/(1+10^x) = 2 -> x = 0
    assert contest_rating(st, {"A": ProblemResult(True)}).rating == pytest.approx(1500, abs=1e-6)


def test_points_scoring_and_symmetric_field(tmp_path):
    st = write(tmp_path, "c3", {"scoring": "points", "problems": [{"index": "A", "points": 500}, {"index": "B", "points": 1000}],
                                "rows": [{"handle": "lo", "rating": 1400, "score": 500},
                                         {"handle": "hi", "rating": 1600, "score": 1500}]})
    res = contest_rating(st, {"A": ProblemResult(True), "B": ProblemResult(True, 2)})  # 500 + (1000 - 2*50)
    assert res.score == 1400 and res.rank == 2
    assert res.rating == pytest.approx(1500, abs=1e-6)  # the middle of 1400 and 1600 by symmetry


def test_binary_search_inverts_expected_seed_and_overall():
    ratings = [800, 1200, 1900, 2400, 3000]
    for rank in (1.5, 2, 3.7, 5.5):
        r = rating_for_rank(rank, ratings)
        assert expected_seed(r, ratings) == pytest.approx(rank, abs=1e-6)
    assert rating_for_rank(2, ratings) > rating_for_rank(3, ratings)
    assert percentile(1800, [1000, 1500, 2000, 2500]) == 50.0
    assert percentile(1500, [1000, 1500, 2000, 2500]) == 37.5


def test_mean_over_contests_from_grade_rows(tmp_path):
    st = write(tmp_path, "100", {"contest_id": "100", "scoring": "icpc", "rows": [
        {"handle": "a", "rating": 1500, "score": 3}, {"handle": "b", "rating": 1500, "score": 1},
        {"handle": "c", "rating": 1500, "score": 0}]})
    grades = [{"problem_id": "100_A", "sample": 0, "correct": False}, {"problem_id": "100_A", "sample": 1, "correct": True},
              {"problem_id": "100_B", "sample": 0, "correct": True}, {"problem_id": "100_C", "sample": 0, "correct": False}]
    results = results_from_grades(grades)
    assert results["100"]["A"] == ProblemResult(True, 1) and results["100"]["C"] == ProblemResult(False, 1)
    first = contest_rating(st, results["100"])  # 2 solved, penalty 10 -> rank 2
    second = contest_rating(st, {"A": ProblemResult(False)})  # 0 solved, tie with c -> rank 3.5
    summary = overall([first, second], [1000, 1500, 2000])
    assert summary["rating"] == pytest.approx((first.rating + second.rating) / 2)
    assert summary["contests"] == 2


def test_bad_standings_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"rows": [{"handle": "x"}]}')
    with pytest.raises(EvalkitError, match="not a standings file"):
        load_standing(path)


def test_cli_rates_a_run_from_its_grades(tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    run = tmp_path / "run"
    run.mkdir()
    rows = [("100_A", 0, True), ("100_B", 0, True), ("100_C", 0, False)]
    (run / "grades.jsonl").write_text("".join(json.dumps({
        "benchmark": "codeforces", "problem_id": pid, "sample": s, "strategy": "elastic", "budget": "1k",
        "correct": c, "status": "accepted" if c else "wrong_answer", "extracted": None, "detail": ""}) + "\n"
        for pid, s, c in rows))
    standings = tmp_path / "standings"
    standings.mkdir()
    (standings / "100.json").write_text(json.dumps({"contest_id": "100", "scoring": "icpc", "rows": [
        {"handle": "a", "rating": 1500, "score": 3}, {"handle": "b", "rating": 1500, "score": 1},
        {"handle": "c", "rating": 1500, "score": 0}]}))
    result = CliRunner().invoke(app, ["codeforces-rating", str(run), "--standings", str(standings)])
    assert result.exit_code == 0, result.output
    assert "rating 1620 over 1 contests" in result.output  # 1500 + 400 log10(2)

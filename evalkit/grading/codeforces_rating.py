"""Codeforces rating of a model, CodeElo's method (Quan et al. 2025, arXiv 2501.01257), computed offline.

For each contest: place the model in the contest's final standings by its result, find the rating r whose expected
seed equals that rank (binary search; seed(r) = 1 + sum_i 1 / (1 + 10^((r - r_i) / 400)) over the human
participants' pre-contest ratings r_i, as in Codeforces' rating system), then average over contests and report the
percentile among human ratings.

Standings are files the user provides (evalkit downloads nothing), one JSON per contest:

    {"contest_id": "2000", "scoring": "icpc" | "points",
     "problems": [{"index": "A", "points": 500}, ...],          # points scoring only
     "rows": [{"handle": "tourist", "rating": 3800, "score": 5, "penalty": 120}, ...]}

`score` is problems solved (icpc) or points; `penalty` breaks ties, lower is better (icpc only). The model is
assumed to submit at minute 0 (no time penalty); each failed attempt before its accepted one costs 10 penalty
minutes (icpc) or 50 points (points scoring, never below 0 for that problem), as in Codeforces rules. Several
samples of one problem are submissions in sample order: the first accepted one counts, earlier ones are failed
attempts. Ties share their places and the model takes the middle of the shared range.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from evalkit.errors import EvalkitError

ICPC_PENALTY_MINUTES = 10
POINTS_PENALTY = 50


@dataclass(frozen=True)
class Standing:
    contest_id: str
    scoring: str  # "icpc" | "points"
    points: dict[str, float]  # problem index -> points (points scoring)
    rows: tuple[tuple[float, float, float], ...]  # (rating, score, penalty) of each rated human


@dataclass(frozen=True)
class ProblemResult:
    solved: bool
    failed_attempts: int = 0


@dataclass(frozen=True)
class ContestRating:
    contest_id: str
    score: float
    penalty: float
    rank: float
    participants: int
    rating: float


def load_standing(path: Path) -> Standing:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = tuple((float(r["rating"]), float(r["score"]), float(r.get("penalty", 0))) for r in data["rows"])
        scoring = str(data.get("scoring", "icpc"))
        points = {str(p["index"]): float(p.get("points", 1)) for p in data.get("problems", [])}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EvalkitError(f"{path}: not a standings file ({type(e).__name__}: {e}); see evalkit.grading.codeforces_rating") from None
    if scoring not in ("icpc", "points"):
        raise EvalkitError(f"{path}: scoring must be icpc or points, got {scoring!r}")
    if not rows:
        raise EvalkitError(f"{path}: standings have no rows")
    return Standing(str(data.get("contest_id", Path(path).stem)), scoring, points, rows)


def model_score(standing: Standing, results: Mapping[str, ProblemResult]) -> tuple[float, float]:
    """(score, penalty) of the model under the contest's scoring."""
    score = penalty = 0.0
    for index, res in results.items():
        if not res.solved:
            continue
        if standing.scoring == "icpc":
            score += 1
            penalty += ICPC_PENALTY_MINUTES * res.failed_attempts
        else:
            if index not in standing.points:
                raise EvalkitError(f"contest {standing.contest_id}: no points for problem {index} in the standings file")
            score += max(0.0, standing.points[index] - POINTS_PENALTY * res.failed_attempts)
    return score, penalty


def model_rank(standing: Standing, score: float, penalty: float) -> float:
    """1-based place among the humans; a tie with t humans spans t + 1 places and the model takes the middle."""
    better = ties = 0
    for _, s, p in standing.rows:
        key = (s, -p) if standing.scoring == "icpc" else (s, 0.0)
        mine = (score, -penalty) if standing.scoring == "icpc" else (score, 0.0)
        if key > mine:
            better += 1
        elif key == mine:
            ties += 1
    return better + 1 + ties / 2


def expected_seed(rating: float, ratings: Sequence[float]) -> float:
    return 1.0 + sum(1.0 / (1.0 + 10 ** ((rating - r) / 400.0)) for r in ratings)


def rating_for_rank(rank: float, ratings: Sequence[float], iterations: int = 100) -> float:
    """The rating whose expected seed among `ratings` is `rank` (seed falls as rating rises: binary search)."""
    lo, hi = min(ratings) - 4000.0, max(ratings) + 4000.0
    for _ in range(iterations):
        mid = (lo + hi) / 2
        if expected_seed(mid, ratings) > rank:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def contest_rating(standing: Standing, results: Mapping[str, ProblemResult]) -> ContestRating:
    score, penalty = model_score(standing, results)
    rank = model_rank(standing, score, penalty)
    ratings = [r for r, _, _ in standing.rows]
    return ContestRating(standing.contest_id, score, penalty, rank, len(ratings), rating_for_rank(rank, ratings))


def percentile(rating: float, population: Iterable[float]) -> float:
    """Share of human ratings below `rating` (ties count half), in percent."""
    pop = list(population)
    if not pop:
        return math.nan
    below = sum(1 for r in pop if r < rating) + 0.5 * sum(1 for r in pop if r == rating)
    return 100.0 * below / len(pop)


def overall(ratings: Sequence[ContestRating], population: Iterable[float]) -> dict[str, Any]:
    if not ratings:
        raise EvalkitError("no contest to rate: give standings for contests the run has problems of")
    mean = sum(c.rating for c in ratings) / len(ratings)
    return {"rating": mean, "percentile": percentile(mean, population), "contests": len(ratings)}


def results_from_grades(grades: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, ProblemResult]]:
    """{contest_id: {index: ProblemResult}} from grade rows of one strategy and budget. Problem ids are
    "<contest>_<index>" (Codeforces problems in evalkit); samples are submissions in sample order."""
    by_problem: dict[str, list[tuple[int, bool]]] = {}
    for g in grades:
        by_problem.setdefault(str(g["problem_id"]), []).append((int(g["sample"]), bool(g["correct"])))
    out: dict[str, dict[str, ProblemResult]] = {}
    for pid, samples in by_problem.items():
        contest, _, index = pid.partition("_")
        if not index:
            continue
        ordered = [c for _, c in sorted(samples)]
        first = next((k for k, c in enumerate(ordered) if c), None)
        out.setdefault(contest, {})[index] = ProblemResult(first is not None, first if first is not None else len(ordered))
    return out

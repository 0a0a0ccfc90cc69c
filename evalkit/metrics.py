"""The per-cell numbers papers on budgeted reasoning publish, as pure functions the summary and the tests share.

- censored: a sample whose thinking evalkit cut (`forced`) and that then gave no answer: the grader extracted
  none (`no_answer`, `no_code`) or the solution text is empty. Counted over *all* samples of a cell, so
  "22 % of answers empty at an 8k budget" reads straight off the column.
- OckScore: accuracy in percent minus 10 * ln(mean generated tokens / 10000 + 1): a cheap answer wins a tie.
- budget AUC: the area under pass@1 over the swept token budgets on a log2(budget) axis, divided by the width of
  that axis, so it is an average accuracy (0-1) in which every doubling of the budget weighs the same.
"""

from __future__ import annotations

import math
from typing import Sequence

from evalkit.types import Generation

NO_ANSWER_STATUSES = ("no_answer", "no_code")  # math: nothing extracted; code: no program in the answer
OCK_TOKEN_SCALE = 10000.0
OCK_WEIGHT = 10.0


def censored(gen: Generation, status: str) -> bool:
    """Forced out of thinking and left without an answer."""
    return gen.forced and (status in NO_ANSWER_STATUSES or not gen.solution_text.strip())


def ockscore(pass1: float, mean_tokens: float) -> float:
    """OckScore from pass@1 as a fraction (0-1) and mean generated tokens (thinking + solution) per sample."""
    return 100.0 * pass1 - OCK_WEIGHT * math.log(mean_tokens / OCK_TOKEN_SCALE + 1.0)


def budget_auc(points: Sequence[tuple[int, float]]) -> float | None:
    """Normalised area under accuracy over log2(budget) (trapezoid rule), from (budget tokens, pass@1) points.

    None with fewer than two distinct budgets (no range to average over) or a budget of 0 or a repeated budget
    (the curve is not a function of the budget there).
    """
    pts = sorted(points)
    budgets = [b for b, _ in pts]
    if len(pts) < 2 or len(set(budgets)) != len(budgets) or budgets[0] <= 0:
        return None
    xs = [math.log2(b) for b in budgets]
    area = sum((xs[i + 1] - xs[i]) * (pts[i][1] + pts[i + 1][1]) / 2 for i in range(len(pts) - 1))
    return area / (xs[-1] - xs[0])

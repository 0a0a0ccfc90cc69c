"""Math grading with math-verify: the answer in the solution part (after `</think>`) against the gold answer.

`verify(gold, pred)` is asymmetric: gold first. Runs inside HardTimeoutPool workers, never in the evalkit
process; a stuck parse becomes status "timeout", an answer math-verify cannot find becomes "no_answer".
"""

from __future__ import annotations

from typing import Any, Sequence

from evalkit.grading.workers import HardTimeoutPool, TaskFailure
from evalkit.types import Verdict


def gold_text(gold: str) -> str:
    """Gold answers are bare LaTeX or numbers ("025", "\\frac{1}{2}"): wrap them so LaTeX extraction sees them."""
    g = gold.strip()
    if "$" in g or "\\boxed" in g or "\\(" in g or "\\[" in g:
        return g
    return f"${g}$"


def grade_one(item: tuple[str, str]) -> tuple[bool, str, str | None, str]:
    """(gold, solution text) -> (correct, status, extracted, detail). Runs in a worker process."""
    from math_verify import parse, verify

    gold, text = item
    gold_parsed = parse(gold_text(gold))
    if not gold_parsed:
        return False, "wrong", None, f"gold answer {gold!r} could not be parsed"
    pred = parse(text)
    if not pred:
        return False, "no_answer", None, ""
    extracted = str(pred[-1]) if len(pred) > 1 else str(pred[0])
    correct = bool(verify(gold_parsed, pred))
    return correct, "ok" if correct else "wrong", extracted, ""


def to_verdict(result: Any) -> Verdict:
    if isinstance(result, TaskFailure):
        return Verdict(False, "timeout" if result.kind == "timeout" else "grader_error", None, result.detail)
    correct, status, extracted, detail = result
    return Verdict(correct, status, extracted, detail)


class MathGrader:
    """Grades many (gold, solution) pairs in worker processes with a hard per-item timeout."""

    def __init__(self, workers: int = 2, timeout: float = 10.0) -> None:
        self.pool = HardTimeoutPool("evalkit.grading.math:grade_one", workers=workers, timeout=timeout)

    def grade(self, pairs: Sequence[tuple[str, str]]) -> list[Verdict]:
        if not pairs:
            return []
        return [to_verdict(r) for r in self.pool.map(list(pairs))]

    def close(self) -> None:
        self.pool.close()

"""Math grading with math-verify: the answer in the solution part (after `</think>`) against the gold answer.

`verify(gold, pred)` is asymmetric: gold first. Runs inside HardTimeoutPool workers, never in the evalkit
process; a stuck parse becomes status "timeout", an answer math-verify cannot find becomes "no_answer", and a gold
answer math-verify cannot turn into math becomes "grader_error" (the benchmark's fault, never the model's "wrong").
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from evalkit.grading.workers import HardTimeoutPool, TaskFailure
from evalkit.types import Verdict


# A gold that already carries its own math delimiters is passed as is. An escaped dollar (MATH's money answers,
# `\$18.90`) is text, not a delimiter: math-verify's `$...$` patterns skip it, so such a gold must still be wrapped
# (its normaliser then drops the `\$`, as it drops the `\!` of `32,\!348`).
_DELIMITED = re.compile(r"(?<!\\)\$|\\boxed|\\\(|\\\[")


def gold_text(gold: str) -> str:
    """Gold answers are bare LaTeX or numbers ("025", "\\frac{1}{2}", "\\$18.90"): wrap them so LaTeX extraction
    sees them."""
    g = gold.strip()
    if _DELIMITED.search(g):
        return g
    return f"${g}$"


def grade_one(item: tuple[str, str]) -> tuple[bool, str, str | None, str]:
    """(gold, solution text) -> (correct, status, extracted, detail). Runs in a worker process."""
    from math_verify import parse, verify

    gold, text = item
    gold_parsed = parse(gold_text(gold))
    if not gold_parsed:
        return False, "grader_error", None, f"gold answer {gold!r} could not be parsed by math-verify"
    pred = parse(text)
    if not pred:
        return False, "no_answer", None, ""
    extracted = str(pred[-1]) if len(pred) > 1 else str(pred[0])
    correct = bool(verify(gold_parsed, pred))
    # parse() keeps the matched text when sympy cannot read it, and verify() then compares that text for exact
    # equality (a gold with `\pm` in it only matches itself). Still a verdict, but the record says so.
    as_text = all(isinstance(x, str) for x in gold_parsed)
    detail = "gold answer compared as text: sympy could not read it" if as_text else ""
    return correct, "ok" if correct else "wrong", extracted, detail


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

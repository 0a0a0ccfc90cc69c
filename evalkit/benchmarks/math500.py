"""MATH-500 (Lightman et al., "Let's Verify Step by Step", PRM800K math_splits/test.jsonl).

Hub: HuggingFaceH4/MATH-500 (split `test`). Local file: math500/math500.jsonl, byte-identical to PRM800K's
file (sha256 35dc4108...). Answers are LaTeX and are compared with math-verify.
"""

from typing import Any

from evalkit.benchmarks.base import Benchmark, HubSource
from evalkit.types import Problem


def to_problem(row: dict[str, Any], index: int) -> Problem:
    return Problem(
        id=str(row["unique_id"]), benchmark="math500", kind="math", prompt=str(row["problem"]),
        answer=str(row["answer"]),
        metadata={"subject": row.get("subject"), "level": row.get("level")},
    )


BENCHMARK = Benchmark(
    name="math500",
    kind="math",
    description="MATH-500 subset of the MATH test set, LaTeX answers, levels 1-5",
    citation="Lightman et al. 2023 (arXiv 2305.20050); Hendrycks et al. 2021 (MATH)",
    local_files=("math500/math500.jsonl", "math500.jsonl"),
    hub=HubSource("HuggingFaceH4/MATH-500", "6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be", split="test"),
    to_problem=to_problem,
    expected_count=500,
)

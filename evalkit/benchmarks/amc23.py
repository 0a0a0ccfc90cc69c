"""AMC 2023 (40 problems, AMC 12A/12B). Hub: math-ai/amc23 (split `test`).

Local file: amc23/amc23.jsonl (QwenLM/Qwen2.5-Math evaluation/data/amc23/test.jsonl @615096e); answers are
floats with integral values (27.0) and are compared as numbers.
"""

from typing import Any

from evalkit.benchmarks.base import Benchmark, HubSource, normalize_integer_answer
from evalkit.types import Problem


def to_problem(row: dict[str, Any], index: int) -> Problem:
    statement = row.get("problem", row.get("question"))
    if statement is None:
        raise KeyError("problem")
    return Problem(
        id=str(row.get("id", index)), benchmark="amc23", kind="math", prompt=str(statement),
        answer=normalize_integer_answer(row["answer"]),
        metadata={"url": row["url"]} if row.get("url") else {},
    )


BENCHMARK = Benchmark(
    name="amc23",
    kind="math",
    description="AMC 12 2023, integer answers",
    citation="MAA AMC 12A/12B 2023",
    local_files=("amc23/amc23.jsonl", "amc23.jsonl"),
    hub=HubSource("math-ai/amc23", "main", split="test"),
    to_problem=to_problem,
    expected_count=40,
)

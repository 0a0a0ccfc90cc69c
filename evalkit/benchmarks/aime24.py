"""AIME 2024 (30 problems, MAA). Hub: HuggingFaceH4/aime_2024 (split `train`, the whole set).

Local file: aime24/aime24.jsonl (QwenLM/Qwen2.5-Math evaluation/data/aime24/test.jsonl @615096e), same upstream
(AI-MO/aimo-validation-aime) as the hub set. Answers keep AIME zero padding ("025") and are compared as numbers.
"""

from typing import Any

from evalkit.benchmarks.base import Benchmark, HubSource, normalize_integer_answer
from evalkit.types import Problem


def to_problem(row: dict[str, Any], index: int) -> Problem:
    url = str(row.get("url", ""))
    return Problem(
        id=str(row["id"]),
        benchmark="aime24",
        kind="math",
        prompt=str(row["problem"]),
        answer=normalize_integer_answer(row["answer"]),
        metadata={"url": url} if url else {},
    )


BENCHMARK = Benchmark(
    name="aime24",
    kind="math",
    description="AIME 2024 I and II, integer answers 0-999",
    citation="MAA AIME 2024; Elastic Reasoning (arXiv 2505.05315) evaluates on it",
    local_files=("aime24/aime24.jsonl", "aime24.jsonl"),
    hub=HubSource("HuggingFaceH4/aime_2024", "2fe88a2f1091d5048c0f36abc874fb997b3dd99a", split="train"),
    to_problem=to_problem,
    expected_count=30,
)

"""AIME 2025 (30 problems, MAA). Hub: math-ai/aime25 (split `test`).

Local files: aime25/aime25_gkv.jsonl (`question`, `answer`; microsoft/G-KV @d8ac545) or aime25/aime25_qwq.jsonl
(`prompt` with QwQ's instruction appended, `answer`; QwenLM/QwQ @56e46a4). Both list the official answers in the
same order (I-1..I-15, II-1..II-15); rows have no ids, so the id is the contest and problem number.
"""

from typing import Any

from evalkit.benchmarks.base import Benchmark, HubSource, normalize_integer_answer
from evalkit.types import Problem

_QWQ_SUFFIX = "\nPlease reason step by step, and put your final answer within \\boxed{}."


def _statement(row: dict[str, Any]) -> str:
    for key in ("problem", "question"):
        if key in row:
            return str(row[key])
    text = str(row["prompt"])
    return text[: -len(_QWQ_SUFFIX)] if text.endswith(_QWQ_SUFFIX) else text


def to_problem(row: dict[str, Any], index: int) -> Problem:
    pid = row.get("id")
    if pid is None:
        pid = f"2025-I-{index + 1}" if index < 15 else f"2025-II-{index - 14}"
    return Problem(
        id=str(pid), benchmark="aime25", kind="math", prompt=_statement(row),
        answer=normalize_integer_answer(row["answer"]),
    )


BENCHMARK = Benchmark(
    name="aime25",
    kind="math",
    description="AIME 2025 I and II, integer answers 0-999",
    citation="MAA AIME 2025",
    local_files=("aime25/aime25_gkv.jsonl", "aime25/aime25_qwq.jsonl", "aime25.jsonl"),
    hub=HubSource("math-ai/aime25", "563bb8404243c5f09de6ec262f2db674fe5bce9b", split="test"),
    to_problem=to_problem,
    expected_count=30,
)

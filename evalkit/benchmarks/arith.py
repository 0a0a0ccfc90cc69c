"""`arith`: arithmetic and word problems generated from a seed, with exact integer answers. No download.

For quick starts and CI smoke runs. `difficulty` 1 (one-digit sums a 135M model gets right some of the time)
to 5 (multi-step problems with three-digit numbers). The same (seed, difficulty, count) always gives the same
problems, so runs stay comparable. Graded by the same math path as the real benchmarks.
"""

from __future__ import annotations

import random
from typing import Any

from evalkit.benchmarks.base import Benchmark
from evalkit.types import Problem

_NAMES = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goro", "Hana")
_ITEMS = ("apples", "marbles", "stickers", "books", "coins", "pencils")


def _operand(rng: random.Random, difficulty: int) -> int:
    top = {1: 9, 2: 20, 3: 99, 4: 99, 5: 999}[difficulty]
    return rng.randint(1, top)


def _expression(rng: random.Random, difficulty: int) -> tuple[str, int]:
    n_ops = {1: 1, 2: 1, 3: 2, 4: 3, 5: 3}[difficulty]
    ops = "+-" if difficulty == 1 else "+-*"
    value = _operand(rng, difficulty)
    text = str(value)
    for _ in range(n_ops):
        op = rng.choice(ops)
        b = _operand(rng, min(difficulty, 2) if op == "*" else difficulty)
        if op == "-" and difficulty <= 2 and b > value:
            op = "+"  # keep easy answers non-negative
        if op == "*" and n_ops > 1:
            text, value = f"({text}) * {b}", value * b
        else:
            text, value = f"{text} {op} {b}", eval(f"{value} {op} {b}")  # noqa: S307 - our own digits only
    return f"What is {text}?", value


def _word(rng: random.Random, difficulty: int) -> tuple[str, int]:
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    a, b = _operand(rng, difficulty), _operand(rng, difficulty)
    if difficulty <= 2:
        return f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?", a + b
    c = rng.randint(2, 9)
    return (
        f"{name} has {a} {item}, buys {c} bags with {b} {item} in each, and then gives away {a // 2}. "
        f"How many {item} does {name} have now?",
        a + c * b - a // 2,
    )


def generate(options: dict[str, Any]) -> list[dict[str, Any]]:
    difficulty = int(options["difficulty"])
    count, seed = int(options["count"]), int(options["seed"])
    rng = random.Random(f"evalkit-arith-{seed}-{difficulty}")
    rows = []
    for i in range(count):
        question, answer = (_word if rng.random() < 0.3 else _expression)(rng, difficulty)
        rows.append({"id": f"d{difficulty}-s{seed}-{i}", "question": question, "answer": answer, "difficulty": difficulty})
    return rows


def to_problem(row: dict[str, Any], index: int) -> Problem:
    return Problem(
        id=str(row["id"]), benchmark="arith", kind="math", prompt=str(row["question"]), answer=str(int(row["answer"])),
        metadata={"difficulty": row.get("difficulty")},
    )


BENCHMARK = Benchmark(
    name="arith",
    kind="math",
    description="generated arithmetic and word problems, exact integer answers (no download)",
    citation="evalkit built-in; deterministic from --arith-seed, --arith-difficulty 1-5, --arith-count",
    local_files=(),
    hub=None,
    to_problem=to_problem,
    generate=generate,
    options={"difficulty": 1, "count": 50, "seed": 0},
)

"""summary.csv: one row per benchmark x strategy x budget, computed from generations.jsonl and grades.jsonl."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from evalkit.config import budget_order
from evalkit.reasoning.strategies import budget_tokens
from evalkit.stats import bootstrap_mean, pass_at_k
from evalkit.types import Generation, GradeRecord


@dataclass(frozen=True)
class SummaryRow:
    benchmark: str
    strategy: str
    budget: str
    thinking_budget: int | None
    solution_budget: int | None
    problems: int
    samples: int  # generations graded in this cell
    pass1: float
    pass1_low: float
    pass1_high: float
    mean_thinking_tokens: float
    mean_solution_tokens: float
    mean_total_tokens: float
    p95_total_tokens: float
    forced_rate: float
    no_answer: int
    timeout: int
    errors: int  # status "grader_error": the grader could not judge the sample (unparseable gold, crash)
    pass_at_k: str  # "k=value;..." for k in 2, 4, 8, ... <= samples per problem
    # Budget adherence (evalkit.reasoning.strategies.budget_tokens says what each strategy's budget allows):
    # generated tokens (thinking + solution) as a share of the allowance; empty where the budget sets none.
    budget_tokens: int | None = None
    mean_budget_use: float | None = None
    p95_budget_use: float | None = None
    over_budget_rate: float | None = None  # share of samples that generated more than the allowance


def budget_sort_key(label: str, thinking_budget: int | None) -> tuple:
    return (*budget_order(thinking_budget), label)


def summarize(gens: Iterable[Generation], grades: dict[tuple, GradeRecord]) -> list[SummaryRow]:
    cells: dict[tuple[str, str, str], list[tuple[Generation, GradeRecord]]] = defaultdict(list)
    for g in gens:
        rec = grades.get(g.key)
        if rec is not None:
            cells[(g.benchmark, g.strategy, g.budget)].append((g, rec))
    rows = []
    for (bench, strategy, budget), items in cells.items():
        per_problem: dict[str, list[bool]] = defaultdict(list)
        for g, rec in items:
            per_problem[g.problem_id].append(rec.correct)
        scores = [float(np.mean(v)) for v in per_problem.values()]
        est = bootstrap_mean(scores)
        n_min = min(len(v) for v in per_problem.values())
        ks = [k for k in (2, 4, 8, 16, 32, 64) if k <= n_min]
        pak = ";".join(
            f"{k}={np.mean([pass_at_k(len(v), sum(v), k) for v in per_problem.values()]):.4f}" for k in ks
        )
        total = np.array([g.total_tokens for g, _ in items], dtype=float)
        statuses = [rec.status for _, rec in items]
        g0 = items[0][0]
        allowance = budget_tokens(g0)
        use = total / allowance if allowance else None
        rows.append(SummaryRow(
            benchmark=bench, strategy=strategy, budget=budget, thinking_budget=g0.thinking_budget,
            solution_budget=g0.solution_budget, problems=len(per_problem), samples=len(items),
            pass1=est.mean, pass1_low=est.low, pass1_high=est.high,
            mean_thinking_tokens=float(np.mean([g.thinking_tokens for g, _ in items])),
            mean_solution_tokens=float(np.mean([g.solution_tokens for g, _ in items])),
            mean_total_tokens=float(total.mean()), p95_total_tokens=float(np.quantile(total, 0.95)),
            forced_rate=float(np.mean([g.forced for g, _ in items])),
            no_answer=statuses.count("no_answer") + statuses.count("no_code"),
            timeout=statuses.count("timeout"),
            errors=statuses.count("grader_error"),
            pass_at_k=pak,
            budget_tokens=allowance,
            mean_budget_use=float(use.mean()) if use is not None else None,
            p95_budget_use=float(np.quantile(use, 0.95)) if use is not None else None,
            over_budget_rate=float(np.mean(total > allowance)) if allowance else None,
        ))
    rows.sort(key=lambda r: (r.benchmark, r.strategy, budget_sort_key(r.budget, r.thinking_budget)))
    return rows


def write_dataclass_csv(rows: Sequence[Any], row_type: type, path: Path) -> None:
    """Write dataclass rows as CSV atomically (temp file + rename), floats to 6 significant digits."""
    names = [f.name for f in fields(row_type)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=names)
        w.writeheader()
        for r in rows:
            w.writerow({n: _fmt(getattr(r, n)) for n in names})
    tmp.replace(path)


def write_summary(rows: list[SummaryRow], path: Path) -> None:
    write_dataclass_csv(rows, SummaryRow, path)


def read_summary(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _fmt(v: object) -> object:
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return ""
    return v

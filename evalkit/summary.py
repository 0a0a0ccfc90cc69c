"""summary.csv: one row per benchmark x strategy x budget, computed from generations.jsonl and grades.jsonl.

Beside it: summary_by_<field>.csv (the same rows per difficulty group, evalkit.difficulty) and summary_auc.csv
(one row per benchmark x strategy: the area under pass@1 over the swept budgets, evalkit.metrics).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from evalkit.config import budget_order
from evalkit.difficulty import Metadata, group_sort_key, group_value
from evalkit.metrics import budget_auc, censored, ockscore
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
    # Published comparisons (evalkit.metrics says how each is defined):
    censored: int = 0  # forced samples left without an answer (no extracted answer or empty solution)
    censored_rate: float = 0.0  # censored / samples (all samples of the cell, not only the forced ones)
    ockscore: float = 0.0  # 100 * pass1 - 10 * ln(mean_total_tokens / 10000 + 1), in accuracy points


def budget_sort_key(label: str, thinking_budget: int | None) -> tuple:
    return (*budget_order(thinking_budget), label)


def summarize(gens: Iterable[Generation], grades: dict[tuple, GradeRecord]) -> list[SummaryRow]:
    rows = [cell_row(*key, items) for key, items in _graded_cells(gens, grades).items()]
    rows.sort(key=lambda r: (r.benchmark, r.strategy, budget_sort_key(r.budget, r.thinking_budget)))
    return rows


Cell = list[tuple[Generation, GradeRecord]]


def _graded_cells(gens: Iterable[Generation], grades: dict[tuple, GradeRecord]) -> dict[tuple[str, str, str], Cell]:
    cells: dict[tuple[str, str, str], Cell] = defaultdict(list)
    for g in gens:
        rec = grades.get(g.key)
        if rec is not None:
            cells[(g.benchmark, g.strategy, g.budget)].append((g, rec))
    return cells


def cell_row(bench: str, strategy: str, budget: str, items: Cell) -> SummaryRow:
    """The summary of one cell's graded samples."""
    per_problem: dict[str, list[bool]] = defaultdict(list)
    for g, rec in items:
        per_problem[g.problem_id].append(rec.correct)
    scores = [float(np.mean(v)) for v in per_problem.values()]
    est = bootstrap_mean(scores)
    n_min = min(len(v) for v in per_problem.values())
    ks = [k for k in (2, 4, 8, 16, 32, 64) if k <= n_min]
    pak = ";".join(
        f"{k}={np.mean([pass_at_k(len(v), sum(v), k) for v in per_problem.values()]):.6g}" for k in ks
    )
    total = np.array([g.total_tokens for g, _ in items], dtype=float)
    statuses = [rec.status for _, rec in items]
    n_censored = sum(censored(g, rec.status) for g, rec in items)
    g0 = items[0][0]
    allowance = budget_tokens(g0)
    use = total / allowance if allowance else None
    return SummaryRow(
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
        censored=n_censored, censored_rate=n_censored / len(items),
        ockscore=ockscore(est.mean, float(total.mean())),
    )


# per difficulty group --------------------------------------------------------------------------------------

def summarize_by(gens: Iterable[Generation], grades: dict[tuple, GradeRecord], field: str, meta: Metadata) -> list[tuple[str, SummaryRow]]:
    """Summary rows per cell and per group of `field` (evalkit.difficulty); problems without a group left out."""
    groups: dict[tuple[str, str, str, str], Cell] = defaultdict(list)
    for (bench, strategy, budget), items in _graded_cells(gens, grades).items():
        for g, rec in items:
            value = group_value(field, bench, meta.get((bench, g.problem_id), {}))
            if value is not None:
                groups[(bench, strategy, budget, value)].append((g, rec))
    out = [(value, cell_row(b, s, lbl, items)) for (b, s, lbl, value), items in groups.items()]
    out.sort(key=lambda vr: (vr[1].benchmark, vr[1].strategy, group_sort_key(vr[0]),
                             budget_sort_key(vr[1].budget, vr[1].thinking_budget)))
    return out


def summary_by_name(field: str) -> str:
    return f"summary_by_{field}.csv"


def write_summary_by(rows: list[tuple[str, SummaryRow]], field: str, path: Path) -> None:
    """Like summary.csv, with the group in a column named after the field, right after `budget`."""
    names = [f.name for f in fields(SummaryRow)]
    cols = names[:3] + [field] + names[3:]
    _write_csv(path, cols, ({field: v, **{n: getattr(r, n) for n in names}} for v, r in rows))


# area under accuracy over budgets -------------------------------------------------------------------------------

SUMMARY_AUC = "summary_auc.csv"


@dataclass(frozen=True)
class AucRow:
    benchmark: str
    strategy: str
    budgets: int  # token budgets on the curve (unconstrained and budget-less cells left out)
    min_budget: int
    max_budget: int
    budget_axis: str  # "log2": every doubling of the budget weighs the same
    pass1_auc: float | None  # average pass@1 (0-1) over the axis; empty with fewer than two budgets


def summarize_auc(rows: Sequence[SummaryRow]) -> list[AucRow]:
    """One row per benchmark x strategy with at least one token budget (evalkit.metrics.budget_auc)."""
    curves: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for r in rows:
        if r.thinking_budget is not None:
            curves[(r.benchmark, r.strategy)].append((r.thinking_budget, r.pass1))
    return [
        AucRow(b, s, len(pts), min(t for t, _ in pts), max(t for t, _ in pts), "log2", budget_auc(pts))
        for (b, s), pts in sorted(curves.items())
    ]


def write_dataclass_csv(rows: Sequence[Any], row_type: type, path: Path) -> None:
    """Write dataclass rows as CSV atomically (temp file + rename), floats to 6 significant digits."""
    names = [f.name for f in fields(row_type)]
    _write_csv(path, names, ({n: getattr(r, n) for n in names} for r in rows))


def _write_csv(path: Path, names: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(names))
        w.writeheader()
        for r in rows:
            w.writerow({n: _fmt(r[n]) for n in names})
    tmp.replace(path)


def pass_at_k_columns(text: str) -> dict[str, float]:
    """The pass_at_k cell "2=0.41;4=0.55" as {"pass@2": 0.41, "pass@4": 0.55}."""
    return {f"pass@{k}": float(v) for k, v in (kv.split("=", 1) for kv in (text or "").split(";") if "=" in kv)}


def summary_records(rows: Sequence[SummaryRow]) -> list[dict[str, Any]]:
    """Rows as dicts, with pass_at_k also unpacked into pass@2, pass@4 ... (empty where a cell has too few samples)."""
    ks = sorted({c for r in rows for c in pass_at_k_columns(r.pass_at_k)}, key=lambda c: int(c[5:]))
    out = []
    for r in rows:
        extra = pass_at_k_columns(r.pass_at_k)
        out.append({**{f.name: getattr(r, f.name) for f in fields(SummaryRow)}, **{c: extra.get(c) for c in ks}})
    return out


def write_summary(rows: list[SummaryRow], path: Path) -> None:
    """summary.csv: the SummaryRow fields, then one pass@k column per k some cell supports (for spreadsheets and
    pandas; pass_at_k keeps the packed form older readers expect). Atomic, floats to 6 significant digits."""
    records = summary_records(rows)
    names = list(records[0]) if records else [f.name for f in fields(SummaryRow)]
    _write_csv(path, names, records)


def read_summary(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _fmt(v: object) -> object:
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return ""
    return v

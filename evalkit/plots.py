"""Accuracy-vs-tokens figures (PNG + SVG) from summary rows. Reads files only; no model, no GPU.

One figure per benchmark; one line per run x strategy; CI bars; each point labelled by its budget.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from evalkit.summary import budget_sort_key


@dataclass(frozen=True)
class Point:
    budget: str
    thinking_budget: int | None
    tokens: float
    accuracy: float
    low: float
    high: float


@dataclass(frozen=True)
class Series:
    label: str
    benchmark: str
    points: tuple[Point, ...]


def series_from_summary(rows: Sequence[dict[str, str]], run_label: str, label_strategy: bool) -> list[Series]:
    grouped: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for r in rows:
        tb = int(r["thinking_budget"]) if r.get("thinking_budget") not in (None, "") else None
        grouped[(r["benchmark"], r["strategy"])].append(Point(
            r["budget"], tb, float(r["mean_total_tokens"]), float(r["pass1"]), float(r["pass1_low"]), float(r["pass1_high"])
        ))
    out = []
    for (bench, strategy), pts in grouped.items():
        pts.sort(key=lambda p: budget_sort_key(p.budget, p.thinking_budget))
        label = f"{run_label} ({strategy})" if label_strategy else run_label
        out.append(Series(label, bench, tuple(pts)))
    return out


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both fewer tokens and higher accuracy."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def plot_accuracy_vs_tokens(series: Sequence[Series], out_dir: Path, pareto: bool = False, title_suffix: str = "") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    by_bench: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        by_bench[s.benchmark].append(s)
    for bench, group in sorted(by_bench.items()):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for s in group:
            xs = [p.tokens for p in s.points]
            ys = [100 * p.accuracy for p in s.points]
            err = [[100 * (p.accuracy - p.low) for p in s.points], [100 * (p.high - p.accuracy) for p in s.points]]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=s.label)
            for p, x, y in zip(s.points, xs, ys):
                ax.annotate(p.budget, (x, y), textcoords="offset points", xytext=(4, 6), fontsize=8)
        if pareto:
            allpts = [(p.tokens, 100 * p.accuracy) for s in group for p in s.points]
            front = sorted((allpts[i] for i in pareto_front(allpts)))
            if front:
                ax.plot([x for x, _ in front], [y for _, y in front], "k--", lw=1, alpha=0.6, label="Pareto frontier")
        ax.set_xlabel("mean generated tokens per sample (thinking + solution)")
        ax.set_ylabel("pass@1 (%), 95% bootstrap CI")
        ax.set_title(f"{bench}: accuracy vs tokens{title_suffix}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        for ext in ("png", "svg"):
            path = out_dir / f"{bench}_accuracy_vs_tokens.{ext}"
            fig.savefig(path, dpi=120)
            written.append(path)
        plt.close(fig)
    return written

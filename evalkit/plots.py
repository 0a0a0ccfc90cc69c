"""Accuracy-vs-tokens figures (PNG + SVG) from summary rows or baseline files. Reads files only; no model, no GPU.

One figure per benchmark (with a difficulty field, one panel per group of it); one line per run x strategy (colour
= run, line style = strategy); CI bars; each point labelled by its budget; optionally the accuracy/token Pareto
frontier. SVG text stays text (searchable, testable).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from evalkit.difficulty import group_sort_key
from evalkit.summary import budget_sort_key

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from evalkit.outcomes import RunOutcomes

X_LABEL = "mean generated tokens per sample (thinking + solution)"
Y_LABEL = "pass@1 (%), 95% bootstrap CI"
PARETO_LABEL = "Pareto frontier"


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
    run: str = ""  # colour key: every line of one run shares a colour
    strategy: str = ""  # line style key
    facet: str = ""  # difficulty group (summary_by_<field>.csv): one panel per group


def series_from_summary(rows: Sequence[dict[str, str]], run_label: str, label_strategy: bool, by: str | None = None) -> list[Series]:
    """Series from summary.csv rows, or with `by` from summary_by_<by>.csv rows (one series per group)."""
    grouped: dict[tuple[str, str, str], list[Point]] = defaultdict(list)
    for r in rows:
        tb = int(r["thinking_budget"]) if r.get("thinking_budget") not in (None, "") else None
        grouped[(r["benchmark"], r["strategy"], r[by] if by else "")].append(Point(
            r["budget"], tb, float(r["mean_total_tokens"]), float(r["pass1"]), float(r["pass1_low"]), float(r["pass1_high"])
        ))
    out = []
    for (bench, strategy, facet), pts in grouped.items():
        pts.sort(key=lambda p: budget_sort_key(p.budget, p.thinking_budget))
        label = f"{run_label} ({strategy})" if label_strategy else run_label
        out.append(Series(label, bench, tuple(pts), run_label, strategy, facet))
    return out


def series_from_outcomes(outcomes: "RunOutcomes", run_label: str, label_strategy: bool) -> list[Series]:
    """Series from per-problem outcomes (a baseline file), with the same estimator as summary.csv."""
    from evalkit.stats import bootstrap_mean

    grouped: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for c in outcomes.sorted_cells():
        probs = list(c.problems.values())
        est = bootstrap_mean([o.score for o in probs])
        samples = sum(o.total for o in probs)
        tokens = sum(o.mean_tokens * o.total for o in probs) / samples  # per sample, like summary.csv
        grouped[(c.benchmark, c.strategy)].append(Point(c.budget, c.thinking_budget, tokens, est.mean, est.low, est.high))
    return [
        Series(f"{run_label} ({strategy})" if label_strategy else run_label, bench, tuple(pts), run_label, strategy)
        for (bench, strategy), pts in grouped.items()
    ]


def unique_labels(paths: Sequence[Path]) -> list[str]:
    """Run labels for a legend: folder names, widened with parent folders until no two runs share one."""
    parts = [Path(p).resolve().parts for p in paths]
    for depth in range(1, max((len(x) for x in parts), default=1) + 1):
        labels = ["/".join(x[-depth:]) for x in parts]
        if len(set(labels)) == len(labels):
            return [Path(lbl).stem if Path(p).is_file() else lbl for lbl, p in zip(labels, paths)]
    return [str(p) for p in paths]


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both fewer tokens and higher accuracy."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def build_figures(series: Sequence[Series], pareto: bool = False, title_suffix: str = "", logx: bool = False,
                  by: str | None = None) -> dict[str, "Figure"]:
    """One matplotlib Figure per benchmark (no pyplot state, so nothing to close and safe in threads); with `by`,
    one panel per difficulty group of that field, easiest first, sharing the accuracy axis."""
    from matplotlib.figure import Figure

    runs = list(dict.fromkeys(s.run or s.label for s in series))
    strategies = list(dict.fromkeys(s.strategy for s in series))
    palette = [f"C{i % 10}" for i in range(len(runs))]
    by_bench: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        by_bench[s.benchmark].append(s)
    figures = {}
    for bench, group in sorted(by_bench.items()):
        facets = sorted({s.facet for s in group}, key=group_sort_key) if by else [""]
        cols = min(len(facets), 3)
        rows = -(-len(facets) // cols)
        fig = Figure(figsize=(7 if cols == 1 else 4.2 * cols, 4.5 if rows == 1 else 3.6 * rows))
        axes = fig.subplots(rows, cols, sharey=True, squeeze=False).ravel()
        for ax, facet in zip(axes, facets):
            _draw(ax, [s for s in group if s.facet == facet], runs, strategies, palette, pareto, logx)
            ax.set_title(f"{by} {facet}" if by else f"{bench}: accuracy vs tokens{title_suffix}", fontsize=10 if by else None)
        for ax in axes[len(facets):]:
            ax.set_visible(False)
        if by:
            fig.suptitle(f"{bench}: accuracy vs tokens by {by}{title_suffix}")
            for i, ax in enumerate(axes[:len(facets)]):
                ax.set_xlabel("mean tokens per sample", fontsize=8)
                ax.set_ylabel(Y_LABEL if i % cols == 0 else "", fontsize=8)
        fig.tight_layout()
        figures[bench] = fig
    return figures


def _draw(ax: "Axes", group: Sequence[Series], runs: list[str], strategies: list[str], palette: list[str],
          pareto: bool, logx: bool) -> None:
    labelled: set[tuple[float, float, str]] = set()  # runs that land on the same point share one budget label
    for s in group:
        color = palette[runs.index(s.run or s.label)]
        style = strategies.index(s.strategy)
        xs = [p.tokens for p in s.points]
        ys = [100 * p.accuracy for p in s.points]
        err = [[100 * (p.accuracy - p.low) for p in s.points], [100 * (p.high - p.accuracy) for p in s.points]]
        ax.errorbar(xs, ys, yerr=err, marker=_MARKERS[style % len(_MARKERS)], linestyle=_STYLES[style % len(_STYLES)],
                    color=color, capsize=3, label=s.label)
        for p, x, y in zip(s.points, xs, ys):
            spot = (round(x, 6), round(y, 6), p.budget)
            if spot not in labelled:
                labelled.add(spot)
                ax.annotate(p.budget, (x, y), textcoords="offset points", xytext=(4, 6), fontsize=8, color=color)
    if pareto:
        allpts = [(p.tokens, 100 * p.accuracy) for s in group for p in s.points]
        front = sorted(allpts[i] for i in pareto_front(allpts))
        if front:
            ax.plot([x for x, _ in front], [y for _, y in front], "k--", lw=1, alpha=0.6, marker="o", markersize=11,
                    markerfacecolor="none", markeredgecolor="k", label=PARETO_LABEL)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i] == PARETO_LABEL)  # runs first, frontier last
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8)


def plot_accuracy_vs_tokens(series: Sequence[Series], out_dir: Path, pareto: bool = False, title_suffix: str = "",
                            logx: bool = False, by: str | None = None) -> list[Path]:
    """PNG + SVG per benchmark: <bench>_accuracy_vs_tokens.*, or with `by` <bench>_accuracy_vs_tokens_by_<by>.*"""
    import matplotlib

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for bench, fig in build_figures(series, pareto, title_suffix, logx, by).items():
        for ext in ("png", "svg"):
            path = out_dir / f"{bench}_accuracy_vs_tokens{f'_by_{by}' if by else ''}.{ext}"
            # svg.fonttype none keeps labels as <text>, so an SVG can be searched, diffed and checked by tests.
            with matplotlib.rc_context({"svg.fonttype": "none"}):
                fig.savefig(path, dpi=120)
            written.append(path)
    return written

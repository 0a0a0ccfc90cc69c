"""offload_summary.csv and the offload plots: per benchmark x policy, accuracy with CI, measured offload ratio,
simulated latency (sequential and pipelined), speedup over the big model alone, slowdown over the small model
alone. Reads files only (generations.jsonl, grades.jsonl), so any cost profile can be applied afterwards.

Baselines are counterfactual and per sample: the same tokens (same segments, same contexts) written by the big
model alone, or by the small model alone, on the same simulated deployment. Speedup = mean big-only latency /
mean latency of the policy (a ratio of total time over the cell's samples), as SplitReason reports it.

Accounting as the peers report it: hand-offs per sample (small -> big switches, SplitReason's offload count), the big
model's share of generated tokens, and cost in R2R's unit: generated tokens x parameters of the model that wrote
them (`cost_gparam_tokens`, in 1e9 parameter-tokens per sample) and its ratio to tokens, the average parameters per
generated token (`avg_params_b`, billions; R2R's "average activated parameters"). Parameter counts come from
`evalkit.sim.params`; NaN when unknown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from evalkit.reasoning.offload import STRATEGY, policy_from_label
from evalkit.sim.latency import BIG, SegmentTable, simulate
from evalkit.sim.profile import CostPair
from evalkit.stats import bootstrap_mean
from evalkit.store import GENERATIONS, RunStore, iter_jsonl
from evalkit.summary import read_summary, write_dataclass_csv
from evalkit.types import Generation, GradeRecord

OFFLOAD_SUMMARY = "offload_summary.csv"


@dataclass(frozen=True)
class OffloadRow:
    benchmark: str
    policy: str
    asked_ratio: float | None
    problems: int
    samples: int
    pass1: float
    pass1_low: float
    pass1_high: float
    offload_ratio: float  # big-model tokens / all generated tokens, over the cell
    offload_ratio_mean: float  # mean of per-sample ratios
    mean_total_tokens: float
    mean_small_tokens: float
    mean_big_tokens: float
    mean_switches: float
    mean_handoffs: float  # small -> big switches per sample
    small_params_b: float  # parameters of each model, billions (NaN: unknown)
    big_params_b: float
    cost_gparam_tokens: float  # mean per sample of sum(tokens x parameters of their model), 1e9 parameter-tokens
    avg_params_b: float  # cost / generated tokens over the cell: average parameters per generated token, billions
    latency_seq_s: float  # mean simulated seconds per sample
    latency_pipe_s: float
    big_only_seq_s: float
    big_only_pipe_s: float
    small_only_seq_s: float
    small_only_pipe_s: float
    speedup_vs_big_seq: float
    speedup_vs_big_pipe: float
    slowdown_vs_small_seq: float
    slowdown_vs_small_pipe: float
    profile: str
    small_cost: str
    big_cost: str


def _key(row: dict[str, Any]) -> tuple[str, str, int, str, str]:
    return (row["benchmark"], row["problem_id"], int(row["sample"]), row["strategy"], row["budget"])


Params = tuple[float | None, float | None]  # parameters of the small and the big model


def offload_rows(gens: Sequence[Generation], grades: dict[tuple, GradeRecord], costs: CostPair,
                 params: Params = (None, None)) -> list[OffloadRow]:
    return offload_rows_from_json([g.to_json() for g in gens], grades, costs, params)


def offload_rows_from_json(rows: Iterable[dict[str, Any]], grades: dict[tuple, GradeRecord], costs: CostPair,
                           params: Params = (None, None)) -> list[OffloadRow]:
    """The summary from generations.jsonl rows as parsed JSON (graded offload rows only)."""
    rows = [r for r in rows if r["strategy"] == STRATEGY and _key(r) in grades]
    if not rows:
        return []
    table = SegmentTable.from_rows(rows)
    n = table.samples
    seq, pipe = simulate(table, costs)
    big_seq, big_pipe = simulate(table, costs, force="big")
    small_seq, small_pipe = simulate(table, costs, force="small")
    big = np.bincount(table.sample, weights=table.length * (table.role == BIG), minlength=n)
    total = np.array([r["thinking_tokens"] + r["solution_tokens"] for r in rows], dtype=float)
    wrote = table.length > 0  # empty requests cost time but hand nothing over: not switches
    samp, role = table.sample[wrote], table.role[wrote]
    change = (samp[1:] == samp[:-1]) & (role[1:] != role[:-1])
    switches = np.bincount(samp[1:][change], minlength=n) if samp.size > 1 else np.zeros(n)
    handoff = change & (role[1:] == BIG)
    handoffs = np.bincount(samp[1:][handoff], minlength=n) if samp.size > 1 else np.zeros(n)
    p_small, p_big = (np.nan if p is None else float(p) / 1e9 for p in params)
    cost = (total - big) * p_small + big * p_big  # per sample, 1e9 parameter-tokens
    correct = np.array([grades[_key(r)].correct for r in rows], dtype=float)
    cells: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        cells[(r["benchmark"], r["budget"])].append(i)
    out = []
    for (bench, label), idx in cells.items():
        ix = np.asarray(idx)
        per_problem: dict[str, list[float]] = defaultdict(list)
        for i in idx:
            per_problem[rows[i]["problem_id"]].append(correct[i])
        est = bootstrap_mean([float(np.mean(v)) for v in per_problem.values()])
        b, t = big[ix], total[ix]
        lat_s, lat_p = float(seq[ix].mean()), float(pipe[ix].mean())
        b_s, b_p = float(big_seq[ix].mean()), float(big_pipe[ix].mean())
        s_s, s_p = float(small_seq[ix].mean()), float(small_pipe[ix].mean())
        out.append(OffloadRow(
            benchmark=bench, policy=label, asked_ratio=policy_from_label(label).asked_ratio,
            problems=len(per_problem), samples=len(idx), pass1=est.mean, pass1_low=est.low, pass1_high=est.high,
            offload_ratio=float(b.sum() / t.sum()) if t.sum() else 0.0,
            offload_ratio_mean=float(np.mean(np.divide(b, t, out=np.zeros_like(b), where=t > 0))),
            mean_total_tokens=float(t.mean()), mean_small_tokens=float((t - b).mean()), mean_big_tokens=float(b.mean()),
            mean_switches=float(switches[ix].mean()), mean_handoffs=float(handoffs[ix].mean()),
            small_params_b=p_small, big_params_b=p_big, cost_gparam_tokens=float(cost[ix].mean()),
            avg_params_b=float(cost[ix].sum() / t.sum()) if t.sum() else float("nan"),
            latency_seq_s=lat_s, latency_pipe_s=lat_p, big_only_seq_s=b_s, big_only_pipe_s=b_p,
            small_only_seq_s=s_s, small_only_pipe_s=s_p,
            speedup_vs_big_seq=_ratio(b_s, lat_s), speedup_vs_big_pipe=_ratio(b_p, lat_p),
            slowdown_vs_small_seq=_ratio(lat_s, s_s), slowdown_vs_small_pipe=_ratio(lat_p, s_p),
            profile=costs.profile, small_cost=costs.small_key, big_cost=costs.big_key,
        ))
    out.sort(key=lambda r: (r.benchmark, r.offload_ratio, r.policy))
    return out


def read_generation_rows(store: RunStore) -> list[dict[str, Any]]:
    """generations.jsonl as parsed JSON, first row per key (as RunStore.generations), without dataclasses."""
    seen: dict[tuple, dict[str, Any]] = {}
    for row in iter_jsonl(store.path(GENERATIONS)):
        seen.setdefault(_key(row), row)
    return list(seen.values())


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def write_offload_summary(rows: Sequence[OffloadRow], path: Path) -> None:
    write_dataclass_csv(rows, OffloadRow, path)


def read_offload_summary(path: Path) -> list[dict[str, str]]:
    return read_summary(path)


def plot_offload(rows: Sequence[OffloadRow], out_dir: Path, title: str) -> list[Path]:
    """Per benchmark: accuracy vs measured offload ratio, and accuracy vs simulated latency (both deployments)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    by_bench: dict[str, list[OffloadRow]] = defaultdict(list)
    for r in rows:
        by_bench[r.benchmark].append(r)
    for bench, group in sorted(by_bench.items()):
        profile = f"{group[0].profile} ({group[0].small_cost} small, {group[0].big_cost} big)"
        for kind in ("offload", "latency"):
            fig, ax = plt.subplots(figsize=(7, 4.5))
            series = [("pipelined", "latency_pipe_s", "o-"), ("sequential", "latency_seq_s", "s--")] if kind == "latency" \
                else [("", None, "o-")]
            for name, attr, style in series:
                ordered = sorted(group, key=lambda r: (getattr(r, attr) if attr else r.offload_ratio))
                xs = [getattr(r, attr) if attr else 100 * r.offload_ratio for r in ordered]
                ys = [100 * r.pass1 for r in ordered]
                err = [[100 * (r.pass1 - r.pass1_low) for r in ordered], [100 * (r.pass1_high - r.pass1) for r in ordered]]
                ax.errorbar(xs, ys, yerr=err, fmt=style, capsize=3, label=name or None)
                if name == "sequential":
                    continue  # one set of labels per figure
                # Policies that land on the same point (e.g. none and learned when no tag was written) share a label.
                labels: dict[tuple[float, float], list[str]] = defaultdict(list)
                for r, x, y in zip(ordered, xs, ys):
                    labels[(round(x, 6), round(y, 6))].append(r.policy)
                for i, ((x, y), names) in enumerate(labels.items()):  # staggered: neighbours stay readable
                    ax.annotate(", ".join(names), (x, y), textcoords="offset points", xytext=(4, 6 + 11 * (i % 3)), fontsize=8)
            if kind == "latency":
                ax.set_xlabel(f"simulated latency per sample (s), {profile}")
                ax.legend(fontsize=8)
                ax.set_title(f"{bench}: accuracy vs simulated latency\n{title}", fontsize=10)
            else:
                ax.set_xlabel("measured offload ratio (% of generated tokens written by the big model)")
                ax.set_title(f"{bench}: accuracy vs offload ratio\n{title}", fontsize=10)
            ax.set_ylabel("pass@1 (%), 95% bootstrap CI")
            ax.grid(alpha=0.3)
            fig.tight_layout()
            for ext in ("png", "svg"):
                path = out_dir / f"{bench}_accuracy_vs_{'offload_ratio' if kind == 'offload' else 'latency'}.{ext}"
                fig.savefig(path, dpi=120)
                written.append(path)
            plt.close(fig)
    return written


def write_offload_outputs(store: RunStore, costs: CostPair, out_dir: Path | None = None,
                          params: Params | None = None) -> tuple[list[OffloadRow], list[Path]]:
    """Simulate every graded offload generation of a run and write offload_summary.csv and the plots. Parameter
    counts default to those the run recorded (run.json spec small_params / big_params)."""
    if params is None:
        spec = store.read_run().get("spec", {}) if store.path("run.json").exists() else {}
        params = (spec.get("small_params"), spec.get("big_params"))
    rows = offload_rows_from_json(read_generation_rows(store), store.grades(), costs, params)
    target = out_dir or store.root
    write_offload_summary(rows, target / OFFLOAD_SUMMARY)
    plots = plot_offload(rows, target / "plots", store.root.name) if rows else []
    return rows, plots

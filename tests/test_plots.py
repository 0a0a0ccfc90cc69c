"""Accuracy-vs-tokens figures: overlays of several runs, CI bars, budget labels, Pareto frontier, PNG + SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from evalkit.outcomes import load_outcomes, read_baseline
from evalkit.plots import (
    PARETO_LABEL,
    X_LABEL,
    Y_LABEL,
    Point,
    Series,
    build_figures,
    pareto_front,
    series_from_outcomes,
    series_from_summary,
    unique_labels,
)
from evalkit.store import SUMMARY
from evalkit.summary import read_summary
from report_runs import flips, make_run, run_cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def svg_texts(path: Path) -> list[str]:
    """Every <text> string of an SVG, read with a real XML parser."""
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()).strip() for el in root.iter() if el.tag.endswith("text")]


def legend_texts(fig) -> list[str]:
    (ax,) = fig.axes
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _series(label: str, run: str, pts: list[tuple[str, float, float]], strategy: str = "elastic") -> Series:
    return Series(label, "aime", tuple(Point(b, int(b), x, y, y - 0.05, y + 0.05) for b, x, y in pts), run, strategy)


def test_pareto_front():
    pts = [(100, 20), (200, 35), (150, 15), (300, 35), (400, 50), (120, 25)]
    assert sorted(pareto_front(pts)) == [0, 1, 4, 5]  # (150,15) is beaten by (120,25); (300,35) ties (200,35) with more tokens


def test_build_figures_overlays_runs_with_budget_labels_and_frontier():
    a = _series("model-a", "model-a", [("16", 100, 0.2), ("32", 180, 0.4)])
    b = _series("model-b", "model-b", [("16", 90, 0.3), ("32", 150, 0.35)])
    figs = build_figures([a, b], pareto=True)
    (fig,) = figs.values()
    (ax,) = fig.axes
    assert ax.get_xlabel() == X_LABEL and ax.get_ylabel() == Y_LABEL and ax.get_title() == "aime: accuracy vs tokens"
    assert legend_texts(fig) == ["model-a", "model-b", PARETO_LABEL]
    assert sorted(t.get_text() for t in ax.texts) == ["16", "16", "32", "32"]  # each point carries its budget
    same = build_figures([a, _series("copy", "copy", [("16", 100, 0.2), ("32", 180, 0.4)])])["aime"]
    assert sorted(t.get_text() for t in same.axes[0].texts) == ["16", "32"]  # coinciding points: one label, not two
    assert len(ax.containers) == 2  # one errorbar container (CI bars) per run
    colors = {c.lines[0].get_color() for c in ax.containers}
    assert len(colors) == 2
    frontier = next(line for line in ax.get_lines() if line.get_label() == PARETO_LABEL)
    assert list(frontier.get_xdata()) == [90, 150, 180]  # (100, 20 %) is beaten by (90, 30 %)


def test_same_run_keeps_its_colour_across_strategies():
    a1 = _series("a (elastic)", "a", [("16", 100, 0.2)], "elastic")
    a2 = _series("a (s1)", "a", [("16", 110, 0.25)], "s1")
    b1 = _series("b (elastic)", "b", [("16", 90, 0.3)], "elastic")
    (fig,) = build_figures([a1, a2, b1]).values()
    lines = {c.get_label(): c.lines[0] for c in fig.axes[0].containers}
    assert lines["a (elastic)"].get_color() == lines["a (s1)"].get_color() != lines["b (elastic)"].get_color()
    assert lines["a (elastic)"].get_linestyle() != lines["a (s1)"].get_linestyle()


def test_unique_labels(tmp_path):
    (tmp_path / "x" / "run").mkdir(parents=True)
    (tmp_path / "y" / "run").mkdir(parents=True)
    assert unique_labels([tmp_path / "x" / "run", tmp_path / "y" / "run"]) == ["x/run", "y/run"]
    assert unique_labels([tmp_path / "x", tmp_path / "y"]) == ["x", "y"]


def test_series_from_baseline_file_matches_summary(monkeypatch, tmp_path):
    cells = {("aime", "elastic", "16"): flips(30, 12), ("aime", "elastic", "32"): [[i % 3 == 0, i % 2 == 0] for i in range(30)]}
    run = make_run(tmp_path, "r", cells, summary=True)
    baseline = tmp_path / "r.json"
    assert run_cli(monkeypatch, "baseline", run, "-o", baseline) == 0
    from_summary = {p.budget: p for s in series_from_summary(read_summary(run / SUMMARY), "r", True) for p in s.points}
    from_file = {p.budget: p for s in series_from_outcomes(read_baseline(baseline), "r", True) for p in s.points}
    assert from_summary.keys() == from_file.keys() == {"16", "32"}
    for b in from_summary:
        s, f = from_summary[b], from_file[b]
        assert (f.accuracy, f.low, f.high, f.tokens) == pytest.approx((s.accuracy, s.low, s.high, s.tokens), abs=1e-4)
    assert load_outcomes(baseline).cells == load_outcomes(run).cells


def test_plot_command_overlays_runs_png_and_svg(monkeypatch, tmp_path):
    a = make_run(tmp_path / "x", "run", {("aime", "elastic", "16"): flips(20, 5), ("aime", "elastic", "32"): flips(20, 9)}, summary=True)
    b = make_run(tmp_path / "y", "run", {("aime", "elastic", "16"): flips(20, 8), ("aime", "elastic", "32"): flips(20, 10)}, summary=True)
    out = tmp_path / "cmp"
    assert run_cli(monkeypatch, "plot", a, b, "--pareto", "--out", out) == 0
    png, svg = out / "aime_accuracy_vs_tokens.png", out / "aime_accuracy_vs_tokens.svg"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000
    texts = svg_texts(svg)
    for want in (X_LABEL, Y_LABEL, "aime: accuracy vs tokens", "x/run", "y/run", PARETO_LABEL, "16", "32"):
        assert want in texts, want
    assert run_cli(monkeypatch, "plot", a, b, "--label", "base", "--label", "cand", "--out", out) == 0
    texts = svg_texts(svg)
    assert "base" in texts and "cand" in texts and PARETO_LABEL not in texts
    assert run_cli(monkeypatch, "plot", a, b, "--label", "only-one", "--out", out) == 2
    assert run_cli(monkeypatch, "plot", tmp_path / "nowhere", "--out", out) == 2


@pytest.mark.engine
def test_plot_and_report_two_real_demo_runs(demo_engine, monkeypatch, tmp_path):
    """Two real sweeps of the demo model (same settings, different seeds), overlaid on one figure and compared."""
    from evalkit.config import EngineSpec, SweepSpec
    from evalkit.sweep import run_sweep
    from evalkit.types import Sampling

    runs = []
    for seed in (0, 1):
        spec = SweepSpec(
            name=f"demo-seed{seed}", engine=EngineSpec(model="smollm2-demo"), benchmarks=("arith",), budgets=(8, 16),
            solution_budget=16, sampling=Sampling(temperature=0.8, top_p=0.95), seed=seed, limit=6, out_root=str(tmp_path),
        )
        run_sweep(spec, engine=demo_engine)
        runs.append(tmp_path / spec.name)

    series = []
    for r in runs:
        series += series_from_summary(read_summary(r / SUMMARY), r.name, label_strategy=False)
    (fig,) = build_figures(series, pareto=True).values()
    (ax,) = fig.axes
    assert ax.get_xlabel() == X_LABEL and ax.get_ylabel() == Y_LABEL
    assert legend_texts(fig) == ["demo-seed0", "demo-seed1", PARETO_LABEL]
    assert {t.get_text() for t in ax.texts} == {"8", "16"}  # budget labels (one per spot where runs coincide)
    for container, s in zip(ax.containers, series):
        xs = list(container.lines[0].get_xdata())
        assert xs == [p.tokens for p in s.points] and all(0 < x <= 16 + 16 for x in xs)  # tokens within t + s

    out = tmp_path / "compare"
    assert run_cli(monkeypatch, "plot", *runs, "--pareto", "--out", out) == 0
    png, svg = out / "arith_accuracy_vs_tokens.png", out / "arith_accuracy_vs_tokens.svg"
    assert png.read_bytes()[:8] == PNG_MAGIC
    texts = svg_texts(svg)
    for want in (X_LABEL, Y_LABEL, "arith: accuracy vs tokens", "demo-seed0", "demo-seed1", PARETO_LABEL, "8", "16"):
        assert want in texts, want

    # the report pairs the two real runs: 6 problems per cell is too few to judge, so no regression is claimed
    js = tmp_path / "report.json"
    assert run_cli(monkeypatch, "report", runs[0], runs[1], "--json", js) == 0
    import json

    doc = json.loads(js.read_text())
    assert [c["budget"] for c in doc["cells"]] == ["8", "16"]
    assert all(c["paired"] == 6 and c["verdict"] == "UNDERPOWERED" for c in doc["cells"])
    assert doc["verdict"] == "UNDERPOWERED"

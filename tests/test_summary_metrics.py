"""The published numbers in summary.csv, summary_auc.csv and summary_by_<field>.csv, checked against values worked
out by hand from planted generations and grades, written and read back through the real store and summary code."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from evalkit.benchmarks import load_problems
from evalkit.config import EngineSpec, SweepSpec
from evalkit.difficulty import group_value, problem_metadata, rating_band
from evalkit.errors import EvalkitError
from evalkit.metrics import budget_auc, ockscore
from evalkit.runinfo import run_info
from evalkit.run.session import finalize
from evalkit.store import RunStore
from evalkit.types import Generation, GradeRecord, Verdict


def gen(pid: str, sample: int, *, forced: bool = False, text: str = "x", think: int = 10, sol: int = 5,
        bench: str = "math500", strategy: str = "elastic", budget: str = "1024") -> Generation:
    tb = int(budget) if budget.isdigit() else None
    return Generation(bench, pid, sample, strategy, budget, tb, 256 if tb else None, think, sol, forced,
                      "length" if forced else "stop", "stop", "", text, sample)


def plant(root: Path, rows: list[tuple[Generation, bool, str]], problems_jsonl: list[dict] | None = None) -> RunStore:
    """A run directory holding exactly these (generation, correct, status) rows."""
    spec = SweepSpec(name=root.name, engine=EngineSpec(model="demo/m"), benchmarks=("math500",), budgets=(1024,),
                     out_root=str(root.parent))
    store = RunStore(root)
    store.write_run(run_info(spec, {"engine": "fake", "model": "demo/m"}, {}, None))
    store.open_for_append()
    store.append_generations(g for g, _, _ in rows)
    store.append_grades(GradeRecord.of(g, Verdict(ok, status)) for g, ok, status in rows)
    if problems_jsonl is not None:
        (root / "problems.jsonl").write_text("".join(json.dumps(r) + "\n" for r in problems_jsonl))
    return store


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# One cell, three problems x two samples:
#   p1: right (100+20), right but forced (1024+30)          -> score 1
#   p2: forced with an empty solution (graded "wrong")        -> censored
#       forced, text but nothing extracted ("no_answer")      -> censored          -> score 0
#   p3: not forced, nothing extracted (a model that stopped)  -> not censored
#       forced with a wrong answer                            -> not censored      -> score 0
CELL = [
    (gen("p1", 0, think=100, sol=20), True, "ok"),
    (gen("p1", 1, forced=True, think=1024, sol=30), True, "ok"),
    (gen("p2", 0, forced=True, text="", think=1024, sol=0), False, "wrong"),
    (gen("p2", 1, forced=True, text="so the answer is", think=1024, sol=256), False, "no_answer"),
    (gen("p3", 0, text="", think=500, sol=0), False, "no_answer"),
    (gen("p3", 1, forced=True, think=1024, sol=12), False, "wrong"),
]


def test_censored_share_and_ockscore_against_hand_values(tmp_path):
    store = plant(tmp_path / "run", CELL)
    finalize(store)
    (row,) = read_csv(store.path("summary.csv"))
    assert int(row["censored"]) == 2
    assert float(row["censored_rate"]) == pytest.approx(2 / 6, abs=1e-6)  # of all samples, not of the 4 forced
    assert float(row["forced_rate"]) == pytest.approx(4 / 6, abs=1e-6)
    assert float(row["pass1"]) == pytest.approx(1 / 3, abs=1e-6)
    mean_tokens = (120 + 1054 + 1024 + 1280 + 500 + 1036) / 6  # 835.67
    assert float(row["mean_total_tokens"]) == pytest.approx(mean_tokens, abs=1e-3)
    # 33.333 - 10 ln(1.083567) = 32.5308
    assert float(row["ockscore"]) == pytest.approx(100 / 3 - 10 * math.log(mean_tokens / 10000 + 1), abs=1e-4)
    assert float(row["ockscore"]) == pytest.approx(32.5308, abs=1e-4)


def test_summary_csv_keeps_its_columns_in_order_and_adds_new_ones_at_the_end(tmp_path):
    store = plant(tmp_path / "run", CELL)
    finalize(store)
    header = store.path("summary.csv").read_text().splitlines()[0].split(",")
    old = ["benchmark", "strategy", "budget", "thinking_budget", "solution_budget", "problems", "samples", "pass1",
           "pass1_low", "pass1_high", "mean_thinking_tokens", "mean_solution_tokens", "mean_total_tokens",
           "p95_total_tokens", "forced_rate", "no_answer", "timeout", "errors", "pass_at_k", "budget_tokens",
           "mean_budget_use", "p95_budget_use", "over_budget_rate"]
    # then pass_at_k unpacked, one column per k the cells support (this cell: 2 samples per problem at least)
    assert header == old + ["censored", "censored_rate", "ockscore", "pass@2"]


def test_ockscore_zero_tokens_is_accuracy():
    assert ockscore(0.5, 0.0) == 50.0
    assert ockscore(0.5, 10000.0) == pytest.approx(50 - 10 * math.log(2))


def test_budget_auc_is_the_average_accuracy_over_log2_budget(tmp_path):
    # pass@1 0.25 at 512, 0.5 at 1024, 0.75 at 4096; unconstrained (1.0) is not on the curve.
    # log2 axis 9, 10, 12: area 1 * (0.25 + 0.5) / 2 + 2 * (0.5 + 0.75) / 2 = 1.625, over a width of 3 -> 0.541667.
    # (A linear axis would give (512 * 0.375 + 3072 * 0.625) / 3584 = 0.589.)
    rows = []
    for budget, right in (("512", 1), ("1024", 2), ("4096", 3), ("unconstrained", 4)):
        rows += [(gen(f"p{i}", 0, budget=budget), i < right, "ok" if i < right else "wrong") for i in range(4)]
    rows += [(gen("p0", 0, strategy="truncate", budget="1024"), True, "ok")]  # one budget: no range, no area
    store = plant(tmp_path / "run", rows)
    finalize(store)
    auc = {r["strategy"]: r for r in read_csv(store.path("summary_auc.csv"))}
    assert set(auc) == {"elastic", "truncate"}
    e = auc["elastic"]
    assert (e["budgets"], e["min_budget"], e["max_budget"], e["budget_axis"]) == ("3", "512", "4096", "log2")
    assert float(e["pass1_auc"]) == pytest.approx(1.625 / 3, abs=1e-6)
    assert auc["truncate"]["pass1_auc"] == "" and auc["truncate"]["budgets"] == "1"
    assert budget_auc([(512, 0.25), (512, 0.5)]) is None  # a repeated budget is no curve


def test_rating_bands_years_and_unknown_fields():
    assert [rating_band(r) for r in (800, 1199, 1200, 1599, 2400, 3500, 799, None, "x")] == [
        "800-1199", "800-1199", "1200-1599", "1200-1599", "2400-2799", "3200-3599", "<800", None, None]
    assert group_value("year", "aime24", {}) == "2024" and group_value("year", "aime25", {}) == "2025"
    assert group_value("year", "math500", {}) is None
    assert group_value("rating_band", "codeforces", {"rating": 1500}) == "1200-1599"
    assert group_value("difficulty", "livecodebench", {"difficulty": "hard"}) == "hard"
    with pytest.raises(EvalkitError, match="level"):
        group_value("subjekt", "math500", {})


def _math500_rows(problems) -> list[tuple[Generation, bool, str]]:
    # Fixture MATH500 levels: 9001 L1, 9002 L2, 9003 L1, 9004 L1. Level 1: 9001 right twice, 9003 right once,
    # 9004 forced and empty twice; level 2: 9002 right once.
    ids = {p.id.split("/")[-1]: p.id for p in problems}
    plan = {"9001.json": [(True, False, "x"), (True, False, "x")], "9003.json": [(True, False, "x"), (False, False, "x")],
            "9004.json": [(False, True, ""), (False, True, "")], "9002.json": [(True, False, "x"), (False, True, "x")]}
    rows = []
    for name, samples in plan.items():
        for s, (ok, forced, text) in enumerate(samples):
            tokens = 1024 if forced else 300
            rows.append((gen(ids[name], s, forced=forced, text=text, think=tokens, sol=0 if not text else 50), ok,
                         "ok" if ok else ("no_answer" if not text else "wrong")))
    return rows


def test_summary_by_level_on_the_math500_fixture(tmp_path, fixture_data):
    problems, _ = load_problems("math500", str(fixture_data))
    assert {p.metadata["level"] for p in problems} == {1, 2}
    store = plant(tmp_path / "run", _math500_rows(problems))
    finalize(store, problems=problems)
    rows = read_csv(store.path("summary_by_level.csv"))
    assert list(rows[0])[:4] == ["benchmark", "strategy", "budget", "level"]
    assert [r["level"] for r in rows] == ["1", "2"]
    l1, l2 = rows
    assert (l1["problems"], l1["samples"], l2["problems"], l2["samples"]) == ("3", "6", "1", "2")
    assert float(l1["pass1"]) == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-6)
    assert float(l2["pass1"]) == pytest.approx(0.5, abs=1e-6)
    assert float(l1["censored_rate"]) == pytest.approx(2 / 6, abs=1e-6)
    assert int(l2["censored"]) == 0 and float(l2["forced_rate"]) == pytest.approx(0.5)
    # level 1 tokens: 350, 350, 350, 350, 1024, 1024 -> mean 3448 / 6 = 574.67
    assert float(l1["ockscore"]) == pytest.approx(50 - 10 * math.log(3448 / 6 / 10000 + 1), abs=1e-4)
    # MATH500 has no other difficulty field; the faceted plot is drawn beside the usual one.
    assert not store.path("summary_by_difficulty.csv").exists()
    assert (store.plots_dir / "math500_accuracy_vs_tokens_by_level.svg").exists()
    svg = (store.plots_dir / "math500_accuracy_vs_tokens_by_level.svg").read_text()
    assert "level 1" in svg and "level 2" in svg


def test_problems_jsonl_is_preferred_and_the_loaders_are_the_fallback(tmp_path, fixture_data):
    problems, _ = load_problems("math500", str(fixture_data))
    # problems.jsonl in the run directory wins, even over what the loaders would say.
    planted = [{"id": p.id, "benchmark": "math500", "prompt": "", "metadata": {"level": 5 if "9002" in p.id else 4}}
               for p in problems]
    store = plant(tmp_path / "run", _math500_rows(problems), problems_jsonl=planted)
    assert {m["level"] for m in problem_metadata(store.root).values()} == {4, 5}
    finalize(store)  # the end of a run reads problems.jsonl
    assert [r["level"] for r in read_csv(store.path("summary_by_level.csv"))] == ["4", "5"]
    # One group only would repeat summary.csv: no file (arith runs have one --arith-difficulty).
    one = plant(tmp_path / "one", _math500_rows(problems))
    finalize(one, problems=[replace(p, metadata={"level": 3}) for p in problems])
    assert not one.path("summary_by_level.csv").exists()
    # Without it, the end of a run writes no breakdown; on request the loaders named in run.json are read.
    bare = plant(tmp_path / "bare", _math500_rows(problems))
    info = bare.read_run()
    info["spec"]["data_dir"] = str(fixture_data)
    bare.write_run(info)
    finalize(bare)
    assert not bare.path("summary_by_level.csv").exists()
    meta = problem_metadata(bare.root)
    assert {m["level"] for m in meta.values()} == {1, 2}


# --by on the commands ----------------------------------------------------------------------------------------

def _level_runs(tmp_path: Path) -> tuple[Path, Path]:
    """Twelve MATH500-like problems, levels 1 (first six) and 2; the candidate loses every level-2 problem."""
    from report_runs import make_run

    base = make_run(tmp_path, "base", {("math500", "elastic", "1024"): [[True]] * 12})
    cand = make_run(tmp_path, "cand", {("math500", "elastic", "1024"): [[True]] * 6 + [[False]] * 6})
    rows = [{"id": f"math500-{i:03d}", "benchmark": "math500", "metadata": {"level": 1 if i < 6 else 2}} for i in range(12)]
    (cand / "problems.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return base, cand


def test_report_by_level_judges_each_level_apart(tmp_path, monkeypatch):
    from report_runs import run_cli

    base, cand = _level_runs(tmp_path)
    js = tmp_path / "report.json"
    # Six pairs per level: level 2 drops 100 pts on all six (sign-flip p = 2/64), level 1 is unchanged.
    assert run_cli(monkeypatch, "report", base, cand, "--by", "level", "--min-problems", "5", "--json", js) == 1
    cells = {c["benchmark"]: c for c in json.loads(js.read_text())["cells"]}
    assert set(cells) == {"math500 level=1", "math500 level=2"}
    assert cells["math500 level=1"]["verdict"] == "OK" and cells["math500 level=1"]["paired"] == 6
    assert cells["math500 level=2"]["verdict"] == "REGRESSED" and cells["math500 level=2"]["delta"] == pytest.approx(-1.0)
    # OckScore per side: level 2 candidate has 0 % accuracy and make_run's 20 + i % 7 tokens (i = 6..11).
    tokens = sum(20 + i % 7 for i in range(6, 12)) / 6
    assert cells["math500 level=2"]["candidate_ockscore"] == pytest.approx(-10 * math.log(tokens / 10000 + 1), abs=1e-9)
    assert run_cli(monkeypatch, "report", base, cand, "--by", "subject") == 2  # no such field: one-line error


def test_plot_by_level_draws_one_panel_per_level(tmp_path, monkeypatch, capsys):
    from report_runs import run_cli

    base, cand = _level_runs(tmp_path)
    out = tmp_path / "plots"
    assert run_cli(monkeypatch, "plot", cand, "--by", "level", "--out", out) == 0
    svg = (out / "math500_accuracy_vs_tokens_by_level.svg").read_text()
    assert "level 1" in svg and "level 2" in svg
    # Written on request from problems.jsonl: per level 100 % and 0 %.
    by = {r["level"]: float(r["pass1"]) for r in read_csv(cand / "summary_by_level.csv")}
    assert by == {"1": 1.0, "2": 0.0}
    # base has no problems.jsonl; its run.json names the fixture MATH500 file, whose problems are not the run's.
    info = json.loads((base / "run.json").read_text())
    info["spec"]["data_dir"] = str(Path(__file__).parent / "fixtures" / "data")
    (base / "run.json").write_text(json.dumps(info))
    assert run_cli(monkeypatch, "plot", base, "--by", "level") == 2
    assert "no problem of" in capsys.readouterr().err
    assert run_cli(monkeypatch, "plot", cand, "--by", "year") == 2
    assert "fields it has: level" in capsys.readouterr().err

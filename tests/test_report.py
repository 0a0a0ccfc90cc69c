"""`evalkit report` / `evalkit baseline` on run directories with known per-problem outcomes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from evalkit.errors import EvalkitError
from evalkit.outcomes import load_outcomes, read_baseline
from evalkit.report import Thresholds, build_report, decide
from report_runs import flips, make_run, run_cli

A = ("aime", "elastic", "16")
N = 40


@pytest.fixture()
def runs(tmp_path: Path) -> dict[str, Path]:
    """Baseline: 30 of 40 problems right. Candidates: identical, 12 problems lost, 10 problems gained, and a
    5-problem pair whose scores move by 100 points but cannot be told from noise."""
    return {
        "base": make_run(tmp_path, "base", {A: flips(N, 30)}),
        "same": make_run(tmp_path, "same", {A: flips(N, 30)}, model="demo/model-b"),
        "worse": make_run(tmp_path, "worse", {A: flips(N, 18)}, model="demo/model-b"),
        "better": make_run(tmp_path, "better", {A: flips(N, 40)}, model="demo/model-b"),
        "small_base": make_run(tmp_path, "small_base", {A: flips(5, 5)}),
        "small_cand": make_run(tmp_path, "small_cand", {A: flips(5, 0)}, model="demo/model-b"),
    }


def _markdown_table(text: str) -> list[list[str]]:
    """Rows of the first table, parsed by a real CommonMark + GFM-table parser."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert any(t.type == "table_open" for t in tokens), "no table in the Markdown"
    rows, row = [], None
    for t in tokens:
        if t.type == "tr_open":
            row = []
        elif t.type == "inline" and row is not None:
            row.append(t.content)
        elif t.type == "tr_close":
            rows.append(row)
            row = None
    return rows


def _report(monkeypatch, tmp_path: Path, base: Path, cand: Path, *extra: str) -> tuple[int, dict, ET.Element, list[list[str]]]:
    md, xml, js = tmp_path / "r.md", tmp_path / "r.xml", tmp_path / "r.json"
    code = run_cli(monkeypatch, "report", base, cand, "--markdown", md, "--junit", xml, "--json", js, *extra)
    doc = json.loads(js.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))
    return code, doc, ET.parse(xml).getroot(), _markdown_table(md.read_text())


def test_identical_runs_are_ok(monkeypatch, tmp_path, runs):
    code, doc, junit, table = _report(monkeypatch, tmp_path, runs["base"], runs["same"])
    assert code == 0 and doc["exit_code"] == 0
    assert doc["verdict"] == "OK"
    (cell,) = doc["cells"]
    assert cell["verdict"] == "OK" and cell["paired"] == N
    assert cell["delta"] == 0 and cell["delta_low"] == 0 and cell["delta_high"] == 0 and cell["p_value"] == 1
    assert junit.tag == "testsuites" and junit.get("failures") == "0" and junit.get("tests") == "1"
    (case,) = junit.iter("testcase")
    assert case.get("classname") == "evalkit.aime.elastic" and case.get("name") == "budget 16"
    assert case.find("failure") is None and case.find("skipped") is None
    header, row = table
    assert header[0] == "benchmark" and len(row) == len(header)
    assert row[:4] == ["aime", "elastic", "16", "40"] and row[4] == "75.0%" and row[5] == "75.0%" and "OK" in row[-1]


def test_planted_regression_fails_with_exit_1(monkeypatch, tmp_path, runs):
    code, doc, junit, table = _report(monkeypatch, tmp_path, runs["base"], runs["worse"])
    assert code == 1 and doc["exit_code"] == 1
    (cell,) = doc["cells"]
    assert cell["verdict"] == "REGRESSED" and doc["verdict"] == "REGRESSED"
    assert cell["delta"] == pytest.approx(-12 / 40)
    assert cell["delta_high"] < 0 < -cell["delta_low"]
    assert cell["p_value"] == pytest.approx(2 / 2**12)  # exact McNemar: 12 discordant problems, all one way
    assert junit.get("failures") == "1"
    failure = next(junit.iter("testcase")).find("failure")
    assert failure is not None and failure.get("type") == "REGRESSED" and "-30.0 pts" in failure.get("message")
    assert "REGRESSED" in table[1][-1] and table[1][6] == "-30.0"


def test_improvement_is_reported_and_passes(monkeypatch, tmp_path, runs):
    code, doc, junit, _ = _report(monkeypatch, tmp_path, runs["base"], runs["better"])
    assert code == 0
    assert doc["verdict"] == "IMPROVED" and doc["cells"][0]["verdict"] == "IMPROVED"
    assert doc["cells"][0]["delta"] == pytest.approx(0.25) and doc["cells"][0]["delta_low"] > 0
    assert junit.get("failures") == "0" and junit.get("skipped") == "0"


def test_too_few_problems_is_underpowered(monkeypatch, tmp_path, runs):
    code, doc, junit, table = _report(monkeypatch, tmp_path, runs["small_base"], runs["small_cand"])
    assert code == 0  # not a regression ...
    cell = doc["cells"][0]
    assert cell["verdict"] == "UNDERPOWERED" and cell["paired"] == 5 and cell["delta"] == pytest.approx(-1.0)
    assert "only 5 paired problems" in cell["reason"]
    assert junit.get("skipped") == "1" and next(junit.iter("testcase")).find("skipped") is not None
    assert "UNDERPOWERED" in table[1][-1]
    # ... unless the pipeline asks for every cell to be decided
    assert run_cli(monkeypatch, "report", runs["small_base"], runs["small_cand"], "--strict") == 1


def test_drop_within_noise_is_underpowered_not_ok():
    # 4 of 30 problems lost, none gained: the percentile bootstrap CI alone excludes 0, but 4 same-way flips
    # happen with probability 2/16 under no change, so no regression is claimed.
    from evalkit.stats import paired_bootstrap_delta, sign_flip_p_value

    base, cand = [1.0] * 30, [0.0] * 4 + [1.0] * 26
    est = paired_bootstrap_delta(base, cand, resamples=5000)
    p = sign_flip_p_value([c - b for b, c in zip(base, cand)])
    assert est.high < 0 and p == pytest.approx(0.125)
    verdict, reason = decide(30, est.mean, est.low, est.high, p, Thresholds())
    assert verdict == "UNDERPOWERED" and "cannot be told from noise" in reason
    assert decide(30, -0.3, -0.5, -0.1, 0.001, Thresholds())[0] == "REGRESSED"
    assert decide(30, -0.01, -0.02, -0.005, 0.001, Thresholds())[0] == "OK"  # real but tolerated
    assert decide(30, -0.01, -0.02, -0.005, 0.001, Thresholds(max_drop=0.0))[0] == "REGRESSED"


@pytest.mark.parametrize("change, needle", [
    ({"prompt": "{problem} Answer in \\boxed{{}}."}, "aime prompt differs"),
    ({"temperature": 0.0}, "sampling differs (temperature 0.6 vs 0.0)"),
    ({"sha256": "f" * 64}, "aime dataset differs (sha256"),
    ({"solution_budget": 64}, "solution budget differs (32 vs 64)"),
])
def test_incomparable_runs_are_refused_unless_told(monkeypatch, tmp_path, capsys, runs, change, needle):
    other = make_run(tmp_path, "other", {A: flips(N, 18)}, **change)
    assert run_cli(monkeypatch, "report", runs["base"], other) == 2
    err = capsys.readouterr().err
    assert needle in err and "--allow-mismatch" in err and len(err.strip().splitlines()) <= 3
    js = tmp_path / "m.json"
    assert run_cli(monkeypatch, "report", runs["base"], other, "--allow-mismatch", "--json", js) == 1
    assert any(needle in m for m in json.loads(js.read_text())["mismatches"])


def test_runs_that_forced_different_close_texts_need_their_own_switch(monkeypatch, tmp_path, capsys, runs):
    other = make_run(tmp_path, "qwen-close", {A: flips(N, 18)}, close_text="qwen")
    assert run_cli(monkeypatch, "report", runs["base"], other, "--allow-mismatch") == 2
    err = capsys.readouterr().err
    assert "close text differs" in err and "--allow-different-close" in err and len(err.strip().splitlines()) <= 3
    js = tmp_path / "c.json"
    assert run_cli(monkeypatch, "report", runs["base"], other, "--allow-different-close", "--json", js) == 1
    assert any("close text differs" in m for m in json.loads(js.read_text())["mismatches"])


def test_baseline_file_round_trip_and_lookup_by_name(monkeypatch, tmp_path, runs):
    out = tmp_path / "benchmarks" / "baselines" / "aime-base.json"
    assert run_cli(monkeypatch, "baseline", runs["base"], "-o", out) == 0
    doc = json.loads(out.read_text())
    assert doc["evalkit_baseline"] == 1 and doc["identity"]["sampling"]["temperature"] == 0.6
    assert doc["identity"]["datasets"]["aime"] == {"source": "local", "sha256": "0" * 64}  # path and count dropped
    (cell,) = doc["cells"]
    assert cell["problems"]["aime-000"][:2] == [1, 1] and cell["problems"]["aime-039"][:2] == [0, 1]
    from_dir, from_file = load_outcomes(runs["base"]), read_baseline(out)
    assert from_file.cells == from_dir.cells and from_file.identity == from_dir.identity
    # the same verdicts whether the baseline is the run directory or its summary file, found by bare name
    monkeypatch.chdir(tmp_path)
    for cand, verdict, code in (("worse", "REGRESSED", 1), ("same", "OK", 0), ("better", "IMPROVED", 0)):
        js = tmp_path / f"{cand}.json"
        assert run_cli(monkeypatch, "report", "aime-base", runs[cand], "--json", js) == code
        assert json.loads(js.read_text())["verdict"] == verdict
    direct = build_report(from_dir, load_outcomes(runs["worse"]))
    via_file = build_report(from_file, load_outcomes(runs["worse"]))
    assert direct.cells == via_file.cells


def test_cells_pair_on_whatever_labels_rows_carry(tmp_path):
    # offload-style labels (no thinking budget), two strategies, one baseline cell the candidate lacks
    off = ("aime", "offload-random", "r0.25")
    base = make_run(tmp_path, "b", {A: flips(N, 30), off: flips(N, 20), ("aime", "elastic", "32"): flips(N, 32)})
    cand = make_run(tmp_path, "c", {A: flips(N, 30), off: flips(N, 8), ("aime", "s1", "16"): flips(N, 1)},
                    tokens=lambda b, i, s: 40)
    rep = build_report(load_outcomes(base), load_outcomes(cand))
    got = {(c.strategy, c.budget): c for c in rep.cells}
    assert got[("offload-random", "r0.25")].verdict == "REGRESSED" and got[("offload-random", "r0.25")].thinking_budget is None
    assert got[("elastic", "16")].verdict == "OK"
    assert got[("elastic", "32")].verdict == "MISSING"
    assert ("s1", "16") not in got and any("s1/16" in n for n in rep.notes)
    assert rep.verdict == "REGRESSED" and rep.exit_code() == 1
    # token delta: candidate 40 tokens per sample, baseline 20 + i % 7
    base_tokens = sum(20 + i % 7 for i in range(N)) / N
    c = got[("elastic", "16")]
    assert c.baseline_tokens == pytest.approx(base_tokens) and c.token_delta == pytest.approx(40 - base_tokens)
    assert c.token_delta_low <= c.token_delta <= c.token_delta_high


def test_partial_overlap_pairs_common_problems_and_notes_the_rest(tmp_path):
    base = make_run(tmp_path, "b", {A: flips(N, 30)}, ungraded=2)
    cand = make_run(tmp_path, "c", {A: flips(25, 25)})
    rep = build_report(load_outcomes(base), load_outcomes(cand))
    (cell,) = rep.cells
    assert cell.paired == 25 and cell.baseline_only == N - 2 - 25  # the 2 ungraded baseline rows are left out
    assert any("without a verdict" in n for n in rep.notes) and any("not paired" in n for n in rep.notes)


def test_pass_at_k_next_to_pass_at_1(tmp_path):
    # 12 problems, 4 samples each: baseline problem i has i % 5 right (capped at 4), candidate one fewer
    base_cells = {A: [[s < min(i % 5, 4) for s in range(4)] for i in range(12)]}
    cand_cells = {A: [[s < max(min(i % 5, 4) - 1, 0) for s in range(4)] for i in range(12)]}
    rep = build_report(load_outcomes(make_run(tmp_path, "b", base_cells)), load_outcomes(make_run(tmp_path, "c", cand_cells)))
    (cell,) = rep.cells
    assert set(cell.pass_at_k) == {"2", "4"}
    # pass@2 of a problem with c of 4 right: 1 - C(4-c, 2) / C(4, 2)
    p2 = {0: 0.0, 1: 0.5, 2: 5 / 6, 3: 1.0, 4: 1.0}
    want_b = sum(p2[i % 5] for i in range(12)) / 12
    want_c = sum(p2[max(i % 5 - 1, 0)] for i in range(12)) / 12
    assert cell.pass_at_k["2"] == pytest.approx((want_b, want_c))
    assert cell.baseline_pass1 == pytest.approx(sum(i % 5 for i in range(12)) / 48)
    from evalkit.report_formats import markdown

    assert "@4:" in markdown(rep)


@pytest.mark.parametrize("args, needle", [
    (("nope", "nope2"), "not found"),
    (("BASE", "SAME", "--max-drop", "2"), "--max-drop 2.0 must be an accuracy fraction"),
    (("BASE",), "Missing argument"),  # a usage error must not read as exit 1 (= REGRESSED) in CI
    (("BASE", "SAME", "--no-such-flag"), "No such option"),
])
def test_bad_input_exits_2(monkeypatch, tmp_path, capsys, runs, args, needle):
    argv = [{"BASE": runs["base"], "SAME": runs["same"]}.get(a, a) for a in args]
    assert run_cli(monkeypatch, "report", *argv) == 2
    assert needle in capsys.readouterr().err


def test_unreadable_inputs_exit_2(monkeypatch, tmp_path, capsys, runs):
    bad = tmp_path / "bad.json"
    bad.write_text('{"evalkit_baseline": 1, "cells": [{"benchmark": "aime"}], "identity": {}}')
    assert run_cli(monkeypatch, "report", bad, runs["same"]) == 2
    assert "malformed" in capsys.readouterr().err
    (tmp_path / "notjson.json").write_text("[1, 2")
    assert run_cli(monkeypatch, "report", tmp_path / "notjson.json", runs["same"]) == 2
    assert run_cli(monkeypatch, "report", tmp_path, runs["same"]) == 2  # a folder without run.json
    other = make_run(tmp_path, "other", {("math500", "elastic", "16"): flips(N, 3)})
    with pytest.raises(EvalkitError, match="share no benchmark x strategy x budget cell"):
        build_report(load_outcomes(runs["base"]), load_outcomes(other))


def test_console_script_exit_code(tmp_path, runs):
    """The installed `evalkit` entry point returns 1 on a regression (not just the in-process main)."""
    exe = Path(sys.executable).with_name("evalkit")
    proc = subprocess.run([str(exe), "report", str(runs["base"]), str(runs["worse"])], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "REGRESSED" in proc.stdout


def test_markdown_appends_to_github_step_summary(monkeypatch, tmp_path, runs):
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert run_cli(monkeypatch, "report", runs["base"], runs["same"], "--markdown", summary) == 0
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and "evalkit report: OK" in text


def test_report_json_has_no_nan_for_missing_cells(tmp_path):
    base = make_run(tmp_path, "b", {A: flips(N, 30), ("aime", "elastic", "32"): flips(N, 30)})
    cand = make_run(tmp_path, "c", {A: flips(N, 30)})
    rep = build_report(load_outcomes(base), load_outcomes(cand))
    doc = rep.to_json()
    missing = next(c for c in doc["cells"] if c["verdict"] == "MISSING")
    assert missing["candidate_pass1"] is None and math.isclose(missing["baseline_pass1"], 0.75)
    assert rep.verdict == "MISSING" and rep.exit_code() == 0 and rep.exit_code(strict=True) == 1


def test_github_actions_example_runs_against_the_shipped_baseline(monkeypatch, tmp_path):
    """The workflow in docs/ parses, sweeps with the shipped baseline's settings, and its report and plot steps
    work on that baseline (the baseline file stands in for the candidate run, which needs the model)."""
    import shlex
    import shutil

    import yaml

    repo = Path(__file__).resolve().parents[1]
    workflow = yaml.safe_load((repo / "docs" / "github-actions-example.yml").read_text())
    steps = {s.get("name", s.get("uses")): s.get("run", "") for s in workflow["jobs"]["evalkit"]["steps"]}
    argv = {name: shlex.split(cmd) for name, cmd in steps.items() if cmd.startswith(".venv/bin/evalkit ")}
    sweep = next(a for a in argv.values() if a[1] == "sweep")
    opt = lambda a, k: a[a.index(k) + 1]  # noqa: E731
    shipped = repo / next(a for a in argv.values() if a[1] == "report")[2]  # the baseline the workflow names
    base = read_baseline(shipped)
    # The sweep step names a preset: the baseline must have been made with the preset's settings.
    from evalkit.cli.settings import file_settings, preset_path
    from evalkit.cli.sweep import SWEEP_OPTIONS

    preset = file_settings(preset_path(opt(sweep, "--preset")), "preset", "sweep", SWEEP_OPTIONS)
    assert base.identity.sampling["temperature"] == float(preset["temperature"])
    assert base.identity.solution_budget == int(preset["solution_budget"])
    assert sorted(int(c.budget) for c in base.cells.values()) == sorted(int(b) for b in preset["budgets"].split(","))
    assert {c.benchmark for c in base.cells.values()} == {preset["benchmarks"]}
    assert all(len(c.problems) == preset["limit"] for c in base.cells.values())
    assert base.identity.model == preset["model"]

    monkeypatch.chdir(tmp_path)
    (tmp_path / "benchmarks" / "baselines").mkdir(parents=True)
    shutil.copy(shipped, tmp_path / "benchmarks" / "baselines")
    candidate = opt(sweep, "--name")
    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for a in argv.values():
        if a[1] in ("report", "plot"):
            args = [str(shipped) if x == f"results/{candidate}" else x for x in a[1:]]
            args = [str(summary) if x == "$GITHUB_STEP_SUMMARY" else x for x in args]
            assert run_cli(monkeypatch, *args) == 0, args
    assert "evalkit report: OK" in summary.read_text()
    junit = ET.parse(tmp_path / "results" / "report.xml").getroot()
    assert len(list(junit.iter("testcase"))) == len(base.cells)
    assert (tmp_path / "results" / "compare" / "arith_accuracy_vs_tokens.png").exists()


def test_pass_at_k_text_for_the_sweep_table():
    from evalkit.report_formats import pass_at_k_text

    assert pass_at_k_text("") == "-" and pass_at_k_text("2=0.4100;4=0.5") == "@2 41.0% @4 50.0%"

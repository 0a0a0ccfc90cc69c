"""The Python API and a run directory that stands alone, on a real demo run: `evalkit.sweep` (its own in-process
vLLM engine on the demo model) over MATH-500 problems from the staged data, then `evalkit.load_run`, and the
same run copied to a machine without the data: regrade, report, plot and baseline from the files alone."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import evalkit

pytestmark = pytest.mark.engine

PROBLEMS, SAMPLES, BUDGETS = 3, 2, (16, 32)


def jsonl_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "EVALKIT_DATA_DIR"}  # the copy's machine has no data
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return subprocess.run([sys.executable, "-m", "evalkit", *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def demo_run(data_dir, tmp_path_factory) -> Path:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    root = tmp_path_factory.mktemp("api")
    run = evalkit.sweep(model="smollm2-demo", benchmarks="math500", data_dir=data_dir, limit=PROBLEMS,
                        samples=SAMPLES, budgets=list(BUDGETS), solution_budget=16, max_model_len=2048,
                        name="demo", out_root=root)
    return run.path


def test_load_run_tables_match_the_files(demo_run):
    run = evalkit.load_run(demo_run)
    assert len(run.samples) == jsonl_lines(demo_run / "generations.jsonl") == PROBLEMS * SAMPLES * len(BUDGETS)
    assert len(run.thinking) == jsonl_lines(demo_run / "thinking.jsonl") > 0
    assert len(run.summary) == len((demo_run / "summary.csv").read_text().splitlines()) - 1 == len(BUDGETS)
    assert len(run.problems) == jsonl_lines(demo_run / "problems.jsonl") == PROBLEMS
    s = run.samples
    assert s.correct.notna().all() and set(s.status) <= {"ok", "wrong", "no_answer", "timeout"}
    # problems.jsonl metadata joined per sample: MATH-500's level and subject, and the gold answer
    assert {"level", "subject", "gold", "kind"} <= set(s.columns) and s.gold.notna().all() and set(s.kind) == {"math"}
    assert (s.total_tokens == s.thinking_tokens + s.solution_tokens).all()
    parquet = __import__("pandas").read_parquet(demo_run / "samples.parquet")
    assert len(parquet) == len(s) and list(parquet.columns) == list(s.columns)


def test_pass_at_1_and_2_per_budget_from_samples_equal_summary(demo_run):
    run = evalkit.load_run(demo_run)
    per_problem = run.samples.groupby(["budget", "problem_id"]).correct.agg(["mean", "any"])
    by_budget = per_problem.groupby("budget").mean()
    summary = run.summary.set_index("budget")
    for budget in summary.index:
        assert by_budget.loc[budget, "mean"] == pytest.approx(summary.loc[budget, "pass1"], abs=1e-5)
        # two samples per problem: pass@2 is the share of problems with any correct sample
        assert by_budget.loc[budget, "any"] == pytest.approx(summary.loc[budget, "pass@2"], abs=1e-5)
    assert "pass_at_k" in summary.columns  # the packed column stays for older readers


def test_problems_jsonl_schema_and_growth_through_the_cli(demo_run, data_dir, tmp_path):
    rows = [json.loads(x) for x in (demo_run / "problems.jsonl").read_text().splitlines()]
    assert {r["benchmark"] for r in rows} == {"math500"} and all(r["kind"] == "math" and r["gold"] for r in rows)
    assert all(r["prompt"] and r["prompt"] in r["prompt_sent"] and "level" in r["metadata"] for r in rows)
    grown = tmp_path / "demo"
    shutil.copytree(demo_run, grown)
    before = (grown / "problems.jsonl").read_text()
    # The same sweep with one problem more: the CLI starts an engine (whose logs must stay off stdout), adds only
    # the new problem's row, and prints its summary as the only thing on stdout.
    out = cli("sweep", "--model", "smollm2-demo", "-b", "math500", "--limit", str(PROBLEMS + 1), "-n", str(SAMPLES),
              "--budgets", ",".join(map(str, BUDGETS)), "--solution-budget", "16", "--name", "demo",
              "--max-model-len", "2048", "--out", str(tmp_path), "--data-dir", str(data_dir), "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert doc["generated"] == SAMPLES * len(BUDGETS) and doc["run_dir"] == str(grown)
    assert [str(r["budget"]) for r in doc["summary"]] == [str(b) for b in BUDGETS]
    assert all(r["problems"] == PROBLEMS + 1 for r in doc["summary"])
    after = (grown / "problems.jsonl").read_text()
    assert after.startswith(before) and len(after.splitlines()) == PROBLEMS + 1
    assert len(evalkit.load_run(grown).samples) == (PROBLEMS + 1) * SAMPLES * len(BUDGETS)


def test_run_toml_reruns_the_same_settings_without_an_engine(demo_run, tmp_path):
    """The run.toml a run writes, given back with --config, resolves to the very spec in run.json: the resume finds
    every generation on disk, starts no engine, and run.json's settings stay identical."""
    copy = tmp_path / "demo"
    shutil.copytree(demo_run, copy)
    spec_before = json.loads((copy / "run.json").read_text())["spec"]
    toml = (copy / "run.toml").read_text()
    assert 'model = "smollm2-demo"' in toml and "budgets = " in toml and "samples = 2" in toml
    out = cli("sweep", "--config", str(copy / "run.toml"), "--out", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["generated"] == 0 and "starting engine" not in out.stderr
    spec_after = json.loads((copy / "run.json").read_text())["spec"]
    assert {**spec_after, "out_root": None} == {**spec_before, "out_root": None}


def test_copied_run_regrades_reports_and_plots_without_the_data(demo_run, tmp_path):
    copy = tmp_path / "elsewhere" / "demo"
    shutil.copytree(demo_run, copy)
    info = json.loads((copy / "run.json").read_text())
    info["spec"]["data_dir"] = str(tmp_path / "no-such-data")  # the data folder of the machine that ran it is gone
    (copy / "run.json").write_text(json.dumps(info))
    before = {(g["problem_id"], g["sample"], g["budget"]): g["correct"] for g in map(json.loads, (copy / "grades.jsonl").read_text().splitlines())}
    graded = cli("grade", str(copy), "--regrade")
    assert graded.returncode == 0, graded.stderr[-2000:]
    rows = [json.loads(x) for x in (copy / "grades.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * len(before)
    after = {(g["problem_id"], g["sample"], g["budget"]): g["correct"] for g in rows[len(before):]}
    assert after == before, "the gold in problems.jsonl grades exactly as the benchmark data did"
    report = cli("report", str(demo_run), str(copy), "--min-problems", "1", "--show-flips", "--json", str(tmp_path / "r.json"))
    assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]
    assert "no problem was lost or gained" in report.stdout
    doc = json.loads((tmp_path / "r.json").read_text())
    assert all(c["lost"] == [] and c["gained"] == [] for c in doc["cells"])
    plotted = cli("plot", str(copy), "--out", str(tmp_path / "plots"))
    assert plotted.returncode == 0, plotted.stderr[-2000:]
    assert (tmp_path / "plots" / "math500_accuracy_vs_tokens.png").exists()
    base = cli("baseline", str(copy), "-o", str(tmp_path / "base.json"))
    assert base.returncode == 0, base.stderr[-2000:]
    assert evalkit.load_run(copy).samples.correct.tolist() == evalkit.load_run(demo_run).samples.correct.tolist()


def test_load_runs_stacks_with_a_run_column(demo_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(demo_run, other)
    runs = evalkit.load_runs([demo_run, other])
    assert list(runs.samples.columns[:1]) == ["run"] and set(runs.samples.run) == {"demo", "other"}
    assert len(runs.samples) == 2 * len(evalkit.load_run(demo_run).samples)
    assert len(runs.summary) == 2 * len(BUDGETS)

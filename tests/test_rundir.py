"""problems.jsonl, grading a copied run, summary pass@k columns, report flips and the --json outputs: files and
commands only (no engine)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import evalkit
from evalkit.config import EngineSpec, SweepSpec
from evalkit.errors import EvalkitError
from evalkit.outcomes import load_outcomes
from evalkit.report import Thresholds, build_report
from evalkit.report_formats import flip_lines, json_text, markdown
from evalkit.rundir import PROBLEMS, problems_for_grading, read_problems, write_problems
from evalkit.rundir import tests_sha256 as hash_tests  # a name pytest would collect as a test
from evalkit.runinfo import run_info
from evalkit.store import RunStore
from evalkit.types import Generation, Problem
from evalkit.types import TestCase as Case
from report_runs import make_run, run_cli

ROOT = Path(__file__).resolve().parent.parent


def math(i: int, level: int = 1) -> Problem:
    return Problem(f"m{i}", "math500", "math", f"What is {i}+{i}? Box it.", answer=str(2 * i),
                   metadata={"level": level, "statement": f"What is {i}+{i}?"})


def code(i: int) -> Problem:
    return Problem(f"c{i}", "livecodebench", "code", "Print the input.", tests=(Case("1\n", "1\n"), Case("2\n", "2\n")),
                   metadata={"difficulty": "easy"})


def test_problems_jsonl_rows_and_idempotent_growth(tmp_path):
    ident = {"math500": {"source": "local", "path": "/d/math500.jsonl"}, "livecodebench": {"source": "hub", "repo": "lcb", "revision": "abc"}}
    systems = {"math500": None, "livecodebench": "You are a coder."}
    assert write_problems(tmp_path, {"math500": [math(1), math(2)], "livecodebench": [code(1)]}, ident, systems) == 3
    rows = read_problems(tmp_path)
    m, c = rows[("math500", "m1")], rows[("livecodebench", "c1")]
    assert m["prompt"] == "What is 1+1?" and m["prompt_sent"] == "What is 1+1? Box it." and m["gold"] == "2"
    assert m["metadata"] == {"level": 1} and "tests_sha256" not in m
    assert c["tests_sha256"] == hash_tests(code(1).tests) and c["tests_count"] == 2 and c["tests_source"] == "hub lcb@abc"
    assert c["system"] == "You are a coder." and "gold" not in c
    # A resumed run writes nothing again; a grown one (larger --limit) appends only the new problem.
    assert write_problems(tmp_path, {"math500": [math(1), math(2)]}, ident, systems) == 0
    assert write_problems(tmp_path, {"math500": [math(1), math(2), math(3)]}, ident, systems) == 1
    assert len((tmp_path / PROBLEMS).read_text().splitlines()) == 4
    # A torn last line (killed mid-append) is cut before the next append.
    with open(tmp_path / PROBLEMS, "a") as f:
        f.write('{"id": "m9", "bench')
    assert write_problems(tmp_path, {"math500": [math(4)]}, ident, systems) == 1
    assert len(read_problems(tmp_path)) == 5


def test_tests_hash_sees_any_change():
    a = (Case("1\n", "1\n"),)
    assert hash_tests(a) == hash_tests((Case("1\n", "1\n"),))
    assert hash_tests(a) != hash_tests((Case("1\n", "2\n"),))
    assert hash_tests(a) != hash_tests((Case("1\n", "1\n", "functional"),))


def test_grading_problems_math_from_the_file_code_from_data(tmp_path):
    write_problems(tmp_path, {"math500": [math(1)], "livecodebench": [code(1)]}, {}, {})
    loaded: list[str] = []

    def from_data(name):
        loaded.append(name)
        return [code(1), code(2)]

    got = problems_for_grading(tmp_path, {("math500", "m1"), ("livecodebench", "c1")}, from_data)
    assert loaded == ["livecodebench"], "math never touches the benchmark data"
    assert got[("math500", "m1")].answer == "2" and got[("livecodebench", "c1")].tests == code(1).tests
    changed = Problem("c1", "livecodebench", "code", "x", tests=(Case("1\n", "9\n"),))
    with pytest.raises(EvalkitError, match="differ from those the run used"):
        problems_for_grading(tmp_path, {("livecodebench", "c1")}, lambda name: [changed])


def planted_code_run(tmp_path: Path) -> Path:
    """A code run as another machine wrote it: problems.jsonl, one generation, and a data folder that is not here."""
    spec = SweepSpec(name="code", engine=EngineSpec(model="smollm2-demo"), benchmarks=("livecodebench",), budgets=(16,),
                     data_dir=str(tmp_path / "gone"), out_root=str(tmp_path))
    store = RunStore(spec.run_dir)
    store.write_run(run_info(spec, None, {}, None))
    write_problems(store.root, {"livecodebench": [code(1)]}, {"livecodebench": {"source": "local", "path": "/data/lcb/test.jsonl"}}, {})
    store.append_generations([Generation("livecodebench", "c1", 0, "elastic", "16", 16, 1024, 3, 5, False, "stop", "eos",
                                         "think", "```python\nprint(input())\n```", 0)])
    return store.root


def test_copied_code_run_says_in_one_line_what_tests_are_missing(tmp_path):
    run = planted_code_run(tmp_path)
    out = subprocess.run([sys.executable, "-m", "evalkit", "grade", str(run)], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "400"}, timeout=120)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "livecodebench" in lines[0] and "tests" in lines[0] and "--data-dir" in lines[0] and "/data/lcb/test.jsonl" in lines[0]


def test_summary_csv_unpacks_pass_at_k(tmp_path):
    cells = {("arith", "elastic", "16"): [[True, False], [True, True], [False, False]],
             ("arith", "elastic", "32"): [[True, True, True, False], [False, False, True, True]]}
    run = make_run(tmp_path, "r", cells, summary=True)
    header, *rows = [line.split(",") for line in (run / "summary.csv").read_text().splitlines()]
    assert header[-2:] == ["pass@2", "pass@4"] and "pass_at_k" in header
    by_budget = {r[header.index("budget")]: dict(zip(header, r)) for r in rows}
    assert float(by_budget["16"]["pass@2"]) == pytest.approx(2 / 3, abs=1e-5) and by_budget["16"]["pass@4"] == ""
    assert float(by_budget["32"]["pass@4"]) == 1.0
    summary = evalkit.load_run(run).summary
    assert summary["pass@2"].tolist()[0] == pytest.approx(2 / 3, abs=1e-5)


def test_report_flips_lost_and_gained(tmp_path, monkeypatch):
    key = ("arith", "elastic", "16")
    base = make_run(tmp_path, "base", {key: [[True, True], [True, False], [False, False], [True, True]]})
    cand = make_run(tmp_path, "cand", {key: [[True, True], [False, False], [True, False], [True, True]]})
    rep = build_report(load_outcomes(base), load_outcomes(cand), Thresholds(min_problems=1))
    (cell,) = rep.cells
    assert [f.problem_id for f in cell.lost] == ["arith-001"] and cell.lost[0].baseline == (1, 2) and cell.lost[0].candidate == (0, 2)
    assert [f.problem_id for f in cell.gained] == ["arith-002"] and cell.gained[0].candidate == (1, 2)
    assert flip_lines(rep) == ["arith / elastic / 16: lost 1: arith-001 (1/2 → 0/2); gained 1: arith-002 (0/2 → 1/2)"]
    doc = json.loads(json_text(rep, flips=True))
    assert doc["cells"][0]["lost"][0] == {"problem_id": "arith-001", "baseline_correct": 1, "baseline_total": 2,
                                          "candidate_correct": 0, "candidate_total": 2, "delta": -0.5}
    assert "lost" not in json.loads(json_text(rep))["cells"][0], "without --show-flips the JSON keeps its old shape"
    assert "arith-001 (1/2 → 0/2)" in markdown(rep, flips=True) and "arith-001" not in markdown(rep)
    # Through the command: terminal, Markdown and JSON all carry them.
    code = run_cli(monkeypatch, "report", base, cand, "--min-problems", "1", "--show-flips",
                   "--markdown", tmp_path / "r.md", "--json", tmp_path / "r.json")
    assert code == 0
    assert "gained 1: arith-002" in (tmp_path / "r.md").read_text()
    assert json.loads((tmp_path / "r.json").read_text())["cells"][0]["gained"][0]["problem_id"] == "arith-002"


def test_benchmarks_json_is_machine_readable():
    out = subprocess.run([sys.executable, "-m", "evalkit", "benchmarks", "--json"], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["arith"]["kind"] == "math" and rows["arith"]["problems"] == 50 and rows["livecodebench"]["kind"] == "code"


def test_codeforces_rating_json(tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    run = tmp_path / "run"
    run.mkdir()
    rows = [("100_A", True), ("100_B", True), ("100_C", False)]
    (run / "grades.jsonl").write_text("".join(json.dumps({
        "benchmark": "codeforces", "problem_id": pid, "sample": 0, "strategy": "elastic", "budget": "1k",
        "correct": c, "status": "accepted" if c else "wrong_answer", "extracted": None, "detail": ""}) + "\n" for pid, c in rows))
    (tmp_path / "100.json").write_text(json.dumps({"contest_id": "100", "scoring": "icpc", "rows": [
        {"handle": "a", "rating": 1500, "score": 3}, {"handle": "b", "rating": 1500, "score": 1},
        {"handle": "c", "rating": 1500, "score": 0}]}))
    result = CliRunner().invoke(app, ["codeforces-rating", str(run), "--standings", str(tmp_path / "100.json"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert round(doc["rating"]) == 1620 and doc["budget"] == "1k" and doc["per_contest"][0]["contest_id"] == "100"


def test_serve_check_json_reports_an_unreachable_server():
    from typer.testing import CliRunner

    from evalkit.cli import app

    result = CliRunner().invoke(app, ["serve-check", "http://127.0.0.1:9", "--model", "smollm2-demo", "--timeout", "2", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["servers"][0]["url"] == "http://127.0.0.1:9"
    assert any(c["status"] == "fail" for c in doc["servers"][0]["checks"])


def test_sweep_api_names_the_closest_option():
    with pytest.raises(TypeError, match="did you mean 'budgets'"):
        evalkit.sweep(budget=[16, 32])
    with pytest.raises(EvalkitError, match="solution_budget"):
        evalkit.sweep(solution_budgt=32)


def test_sweep_api_maps_python_values_onto_the_command_spec(tmp_path):
    from evalkit.api import _as_flag_text, sweep_options
    from evalkit.cli import sweep_spec

    opts = sweep_options()
    assert opts["budgets"] == "1k,2k,4k" and opts["share_thinking"] is True and "allow_unsandboxed" in opts
    given = {"budgets": [16, "1k"], "solution_budget": 32, "benchmarks": ["arith", "math500"], "out_root": tmp_path,
             "prompt": "Q: {problem}"}
    values = {k: _as_flag_text(k, given[k], d) if k in given else d for k, d in opts.items()}
    values.pop("allow_unsandboxed"), values.pop("verbose")
    spec = sweep_spec(**values)
    assert spec.budgets == (16, 1024) and spec.solution_budget == 32 and spec.benchmarks == ("arith", "math500")
    assert spec.out_root == str(tmp_path) and spec.prompts == {"*": "Q: {problem}"}


def test_import_evalkit_stays_light():
    code = "import sys, evalkit; import evalkit.sweep; print(callable(evalkit.sweep), 'pandas' in sys.modules, 'vllm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.stdout.split() == ["True", "False", "False"], out.stderr

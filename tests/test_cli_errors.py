"""Bad input exits 2 with one line naming the fix, and never touches results already written."""

import json
import subprocess
import sys

import pytest

from evalkit.config import EngineSpec, SweepSpec
from evalkit.store import RunStore
from evalkit.types import Generation


def evalkit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "evalkit", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def one_error_line(proc):
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("args,needle", [
    (["sweep", "--budgets", "abc"], "1k"),
    (["sweep", "--benchmarks", "nope"], "evalkit benchmarks"),
    (["sweep", "--benchmarks", "aime24", "--data-dir", "/nonexistent/evalkit-data"], "--data-dir"),
    (["sweep", "--solution-budget", "0"], "budget"),
    (["sweep", "--prompt", "no placeholder"], "{problem}"),
    (["sweep", "--close-text", "Answer:"], "qwen, sglang"),
    (["demo-model", "nope"], "tiny-r1"),
    (["plot", "/nonexistent/run"], "summary.csv"),
])
def test_bad_input_one_line_exit_2(args, needle, tmp_path):
    line = one_error_line(evalkit(*args, "--out", str(tmp_path)) if args[0] == "sweep" else evalkit(*args))
    assert needle in line


def test_help_lists_commands():
    proc = evalkit("--help")
    assert proc.returncode == 0
    for cmd in ("sweep", "benchmarks", "grade", "plot"):
        assert cmd in proc.stdout


def test_existing_results_survive_bad_input(tmp_path):
    data = tmp_path / "data" / "aime24"
    data.mkdir(parents=True)
    (data / "aime24.jsonl").write_text(json.dumps({"id": 1, "problem": "p", "answer": "3"}) + "\n{torn\n")
    spec = SweepSpec(name="keep", engine=EngineSpec(model="smollm2-demo"), benchmarks=("aime24",), budgets=(16,),
                     solution_budget=16, data_dir=str(tmp_path / "data"), out_root=str(tmp_path / "results"))
    store = RunStore(spec.run_dir)
    from evalkit.runinfo import run_info

    store.write_run(run_info(spec, None, {}, None))
    store.open_for_append()
    store.append_generations([Generation("aime24", "1", 0, "elastic", "16", 16, 16, 3, 2, False, "stop", "eos", "t", "s", 1)])
    before = {p.name: p.read_bytes() for p in spec.run_dir.iterdir()}
    common = ["--benchmarks", "aime24", "--budgets", "16", "--solution-budget", "16", "--name", "keep",
              "--out", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    line = one_error_line(evalkit("sweep", *common))
    assert "aime24.jsonl:2" in line
    # A different sampling setting would mix incomparable samples into the run: refused, files untouched.
    line = one_error_line(evalkit("sweep", *common, "--temperature", "0.1"))
    assert "--name" in line and "sampling" in line
    assert {p.name: p.read_bytes() for p in spec.run_dir.iterdir()} == before


def test_summary_table_fits_80_columns_with_no_cut_cell():
    from rich.console import Console

    from evalkit.cli import summary_table

    row = {"benchmark": "livecodebench", "strategy": "prompt-max", "budget": "unconstrained", "samples": "1600",
           "pass1": "0.1333", "pass1_low": "0.033", "pass1_high": "0.267", "mean_thinking_tokens": "10240.4",
           "mean_solution_tokens": "1024", "forced_rate": "1.0", "p95_budget_use": "0.98", "over_budget_rate": "0.1",
           "pass_at_k": ""}
    for width in (80, 160):
        con = Console(width=width, record=True, file=open("/dev/null", "w"))
        con.print(summary_table([row], "results-with-a-long-run-name", width))
        text = con.export_text()
        assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
        for cell in ("livecodebench", "prompt-max", "unconstrained", "13.3%", "3-27%", "11264", "100%"):
            assert cell in text
    assert "10240" in text  # the wide table adds the thinking/answer split

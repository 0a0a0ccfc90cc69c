"""`--dry-run` plans (evalkit.dryrun): counts, token bounds, what is on disk, the time estimate and the 80-column
table, all without an engine. Token bounds are worked out here by hand from the controllers' caps (t, close,
s), so a change in the planner's arithmetic shows up as a number that no longer matches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from evalkit import dryrun
from evalkit.benchmarks import load_problems
from evalkit.config import EngineSpec, SweepSpec
from evalkit.dryrun import NO_PROFILE, NOTHING_STARTED, plan_offload, plan_sweep, render, text_tokens
from evalkit.errors import EvalkitError
from evalkit.offload_run import OffloadSpec
from evalkit.runinfo import run_info
from evalkit.store import RunStore
from evalkit.types import Generation

CLOSE = len("</think>")  # the close's token bound without a tokenizer: its bytes
S = 32


def spec(tmp_path: Path, **kw) -> SweepSpec:
    args = dict(name="plan", engine=EngineSpec(), benchmarks=("arith",), budgets=(16, 64), solution_budget=S,
                samples=2, limit=3, out_root=str(tmp_path))
    args.update(kw)
    return SweepSpec(**args)  # type: ignore[arg-type]


def row(plan, strategy: str, bench: str = "arith"):
    (r,) = [r for r in plan.rows if r.strategy == strategy and r.benchmark == bench]
    return r


def printed(plan, width: int = 80) -> list[str]:
    console = Console(width=width, record=True)
    console.print(render(plan, width))
    return console.export_text().splitlines()


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    """A dry run must never build a model or start an engine: every door to one raises."""
    from importlib import import_module

    # import_module, not attribute access: `evalkit.sweep` is also the package's sweep() function.
    factory, models = import_module("evalkit.engines.factory"), import_module("evalkit.engines.models")
    sweep, offload_run = import_module("evalkit.sweep"), import_module("evalkit.offload_run")

    def refuse(*a, **k):
        raise AssertionError("a dry run tried to build a model or start an engine")

    for module, name in ((factory, "build_engine"), (sweep, "build_engine"), (offload_run, "build_engine"),
                         (offload_run, "build_engines"), (models, "resolve_model"), (models, "ensure_demo_model"),
                         (models, "ensure_reasoner_model"), (sweep, "resolve_model"), (offload_run, "resolve_model")):
        monkeypatch.setattr(module, name, refuse)


def test_elastic_shared_vs_unshared(tmp_path):
    groups = 3 * 2  # problems x samples
    shared = plan_sweep(spec(tmp_path))
    r = row(shared, "elastic")
    assert (r.problems, r.samples, r.points, r.planned, r.on_disk, r.to_go) == (3, 2, 2, 12, 0, 12)
    # One pass to the largest t, then close + s for each of the two budgets.
    assert r.token_bound == groups * (64 + 2 * (CLOSE + S))
    unshared = row(plan_sweep(spec(tmp_path, share_thinking=False)), "elastic")
    assert unshared.token_bound == groups * ((16 + CLOSE + S) + (64 + CLOSE + S))
    assert unshared.token_bound > r.token_bound
    assert not shared.resume and not (tmp_path / "plan").exists()  # nothing written
    assert f"new run directory (nothing on disk yet): {tmp_path / 'plan'}" in "\n".join(printed(shared, width=300))


def test_truncate_and_several_strategies(tmp_path):
    groups = 6
    plan = plan_sweep(spec(tmp_path, strategy="elastic,truncate,s1,prompt,prompt-max,native", prompt_cap=2.0))
    assert [r.strategy for r in plan.rows] == ["elastic", "truncate", "s1", "prompt", "prompt-max", "native"]
    assert all(r.planned == r.to_go == 12 for r in plan.rows)
    from evalkit.reasoning.strategies import FINAL_ANSWER_CUE

    assert dryrun.S1_CUE == FINAL_ANSWER_CUE
    cue = text_tokens(FINAL_ANSWER_CUE)
    assert row(plan, "truncate").token_bound == groups * 64  # pass + continuation stay under the largest B
    assert row(plan, "s1").token_bound == groups * (64 + 2 * (CLOSE + cue + S))
    assert row(plan, "prompt").token_bound == row(plan, "prompt-max").token_bound == groups * (2 * 16 + 2 * 64)
    assert row(plan, "native").token_bound == groups * ((16 + CLOSE + S) + (64 + CLOSE + S))
    assert plan.token_bound == sum(r.token_bound for r in plan.rows)
    unshared = plan_sweep(spec(tmp_path, strategy="truncate", share_thinking=False))
    assert row(unshared, "truncate").token_bound == groups * (16 + 64)
    assert any("share one thinking pass" in n for n in plan.notes)


def test_unconstrained_bounded_by_max_model_len_or_unbounded(tmp_path):
    plan = plan_sweep(spec(tmp_path, budgets=(16,), unconstrained=True, strategy="elastic,truncate"))
    assert row(plan, "elastic").points == 2 and row(plan, "elastic").planned == 12
    assert row(plan, "elastic").token_bound is None and plan.token_bound is None
    text = "\n".join(printed(plan))
    assert "unbounded" in text and "--max-model-len" in text
    ctx = 1024
    plan = plan_sweep(spec(tmp_path, engine=EngineSpec(max_model_len=ctx), budgets=(16,), unconstrained=True,
                           strategy="elastic,truncate"))
    # elastic: thinking to L - close - s, then close + s after each point; truncate: the whole context.
    assert row(plan, "elastic").token_bound == 6 * ((ctx - CLOSE - S) + 2 * (CLOSE + S))
    assert row(plan, "truncate").token_bound == 6 * ctx


def write_run(s: SweepSpec, rows: list[tuple[str, int, str, str]]) -> RunStore:
    """A run directory as a sweep leaves it: run.json for this spec, and generations with the given keys."""
    store = RunStore(s.run_dir)
    store.write_run(run_info(s, None, {}, None))
    store.open_for_append()
    store.append_generations(
        Generation("arith", pid, sample, strategy, label, None, S, 5, 5, False, "stop", "eos", "", "", 0)
        for pid, sample, strategy, label in rows
    )
    return store


def test_counts_generations_on_disk_and_writes_nothing(tmp_path):
    s = spec(tmp_path, strategy="elastic,truncate")
    problems, _ = load_problems("arith", None, 3, {}, {})
    a, b = problems[0].id, problems[1].id
    store = write_run(s, [
        (a, 0, "elastic", "16"), (a, 0, "elastic", "64"),  # one whole group of elastic
        (b, 1, "elastic", "16"),  # half a group
        (a, 0, "truncate", "64"),
        (a, 0, "elastic", "1k"), (a, 5, "elastic", "16"), ("not-a-problem", 0, "elastic", "16"),  # not in the plan
    ])
    before = {p.name: p.stat().st_mtime_ns for p in store.root.iterdir()}
    plan = plan_sweep(s)
    assert plan.resume
    el, tr = row(plan, "elastic"), row(plan, "truncate")
    assert (el.planned, el.on_disk, el.to_go) == (12, 3, 9)
    assert (tr.planned, tr.on_disk, tr.to_go) == (12, 1, 11)
    # elastic: four whole groups, and b/1 needs only 64 (a fresh pass to 64 plus one solution).
    assert el.token_bound == 4 * (64 + 2 * (CLOSE + S)) + (64 + CLOSE + S)
    # truncate: a/0 still lacks 16, whose cap is 16.
    assert tr.token_bound == 5 * 64 + 16
    assert {p.name: p.stat().st_mtime_ns for p in store.root.iterdir()} == before
    text = "\n".join(printed(plan, width=300))
    assert f"resumes the run directory (4 of the planned generations on disk): {s.run_dir}" in text
    # The run would refuse this directory for another solution budget: so does the plan, with the same line.
    with pytest.raises(EvalkitError, match="different solution_budget"):
        plan_sweep(spec(tmp_path, strategy="elastic,truncate", solution_budget=64))


def test_math_benchmarks_with_staged_data(tmp_path, data_dir):
    plan = plan_sweep(spec(tmp_path, benchmarks=("math500", "aime24"), limit=None, samples=16, data_dir=str(data_dir)))
    assert (row(plan, "elastic", "math500").problems, row(plan, "elastic", "aime24").problems) == (500, 30)
    assert row(plan, "elastic", "aime24").planned == 30 * 16 * 2
    assert all(r.note is None for r in plan.rows)
    assert row(plan, "elastic", "math500").token_bound == 500 * 16 * (64 + 2 * (CLOSE + S))
    assert row(plan, "elastic", "math500").prefill_tokens > 0  # prompts are here: their bytes bound prefill


def test_math_benchmarks_without_data_use_expected_counts(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    plan = plan_sweep(spec(tmp_path, benchmarks=("math500", "aime24", "arith"), limit=None, samples=4,
                           data_dir=str(empty)))
    m, a, ar = row(plan, "elastic", "math500"), row(plan, "elastic", "aime24"), row(plan, "elastic", "arith")
    assert (m.problems, a.problems) == (500, 30)  # expected_count
    assert m.planned == m.to_go == 500 * 4 * 2 and m.token_bound == 500 * 4 * (64 + 2 * (CLOSE + S))
    assert m.note.startswith("data not here: no math500/math500.jsonl")
    assert ar.note is None and ar.problems == 50  # a generated benchmark needs no data
    limited = plan_sweep(spec(tmp_path, benchmarks=("aime24",), limit=10, data_dir=str(empty)))
    assert row(limited, "elastic", "aime24").problems == 10
    text = "\n".join(printed(plan))
    assert "math500: data not here" in text and "aime24: data not here" in text


def profile_file(tmp_path: Path, models: dict, **kw) -> str:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"name": "mybox", "models": models, **kw}))
    return str(path)


def test_time_estimate_from_a_calibrated_profile(tmp_path):
    models = {"other": {"prefill_tps": 10.0, "decode_tps": 1.0},
              "my-model": {"prefill_tps": 1000.0, "decode_tps": 100.0, "request_overhead_s": 0.5}}
    s = spec(tmp_path, engine=EngineSpec(model="my-model"), budgets=(16,), samples=1, limit=2)
    plan = plan_sweep(s)
    assert plan.estimate is None and NO_PROFILE in "\n".join(printed(plan))
    plan = plan_sweep(s, profile_file(tmp_path, models))
    est = plan.estimate
    assert est is not None and est.entries == {"model": "my-model"}  # the entry named like the model
    problems, _ = load_problems("arith", None, 2, {}, {})
    prompt = max(text_tokens(p.prompt) for p in problems)
    tokens = 2 * (16 + CLOSE + S)
    assert est.decode_s == pytest.approx(tokens / 100.0)
    assert est.prefill_s == pytest.approx(2 * prompt / 1000.0)
    assert est.overhead_s == pytest.approx(2 * 2 * 0.5)  # one thinking and one solution request per group
    assert est.seconds == pytest.approx(est.decode_s + est.prefill_s + est.overhead_s)
    text = " ".join(printed(plan))
    assert "mybox" in text and "one sequence at a time" in text and "batch 1" in text
    # An explicit entry wins; a profile that names no entry for the model says which to pick.
    assert plan_sweep(s, profile_file(tmp_path, models), "other").estimate.decode_s == pytest.approx(tokens / 1.0)
    with pytest.raises(EvalkitError, match="my-model"):
        plan_sweep(spec(tmp_path, engine=EngineSpec(model="unknown")), profile_file(tmp_path, models))
    slow = {"my-model": {"prefill_tps": 1000.0, "decode_tps": 100.0, "decode_slowdown_per_1k": 1.0}}
    assert plan_sweep(s, profile_file(tmp_path, slow)).estimate.decode_s > est.decode_s


def offload_spec(tmp_path: Path, **kw) -> OffloadSpec:
    args = dict(name="off", engine=EngineSpec(), big=EngineSpec(), benchmarks=("arith",),
                policies=("none", "big", "random-0.25"), thinking_budget=64, solution_budget=16, samples=2, limit=3,
                out_root=str(tmp_path))
    args.update(kw)
    return OffloadSpec(**args)  # type: ignore[arg-type]


def test_offload_plan_and_estimate(tmp_path):
    plan = plan_offload(offload_spec(tmp_path))
    assert [r.strategy for r in plan.rows] == ["none", "big", "random-0.25"]
    assert all((r.planned, r.to_go, r.token_bound) == (6, 6, 6 * (64 + 16)) for r in plan.rows)
    plan = plan_offload(offload_spec(tmp_path), "splitreason-a6000")
    est = plan.estimate
    assert est.entries == {"small": "1.5B", "big": "32B"}
    # none on the small model, big on the big one, a mixed policy at the slower of the two (an upper bound).
    assert est.decode_s == pytest.approx(480 / 141.0 + 480 / 16.0 + 480 / 16.0)
    lines = printed(plan)
    assert any("policy" in line for line in lines) and NOTHING_STARTED in "\n".join(lines)


def test_render_fits_80_columns_without_cutting_cells(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    wide = plan_sweep(spec(tmp_path, benchmarks=("arith", "math500", "livecodebench"), limit=None, samples=64,
                           budgets=(512, 1024, 2048, 4096, 8192, 16384), unconstrained=True, data_dir=str(empty),
                           strategy="elastic,truncate,s1,prompt-max,native", name="a-rather-long-run-name-" * 4),
                      "splitreason-a6000")
    off = plan_offload(offload_spec(tmp_path, policies=("none", "learned", "random-exact-0.25", "step-exact-0.125"),
                                    benchmarks=("math500", "arith"), data_dir=str(empty)), "splitreason-a6000")
    for plan in (wide, off):
        lines = printed(plan)
        assert lines and max(len(line) for line in lines) <= 80
        assert "…" not in "\n".join(lines)
        assert NOTHING_STARTED in "\n".join(lines)
        text = "\n".join(lines)
        for r in plan.rows:  # every name is printed whole
            assert r.strategy in text and r.benchmark in text
    lcb = row(wide, "elastic", "livecodebench")  # data not here and no expected count: "?", not a made-up 0
    assert not lcb.count_known and "(count unknown)" in lcb.note
    assert "unknown size (?) not counted" in " ".join(printed(wide, width=300))

"""Offload on the real vLLM engine with the demo model as both small and big (one engine object, passed twice)."""

import pytest

from evalkit.config import EngineSpec
from evalkit.offload_run import OffloadSpec, run_offload_sweep
from evalkit.offload_summary import read_offload_summary, write_offload_outputs
from evalkit.reasoning.jobs import Job
from evalkit.reasoning.offload import OffloadContext, Policy, run_offload
from evalkit.sim.calibrate import CalibrationPlan, calibrate, profile_for
from evalkit.sim.profile import pick_costs
from evalkit.sim.profiles import load_profile
from evalkit.store import RunStore
from evalkit.types import Problem, Sampling

pytestmark = pytest.mark.engine
GREEDY = Sampling(temperature=0.0, top_p=1.0)


def job(engine, text="What is 7 + 5? Explain your steps."):
    p = Problem(id="q", benchmark="t", kind="math", prompt=text, answer="12")
    return Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt)), 0, ())


def pick_tag(tok, ids, after=4):
    """A piece of the greedy text that first occurs at token `k` >= after: the small model will write it there."""
    full = tok.decode(ids)
    for k in range(after, len(ids) - 2):
        piece = tok.decode(ids[k : k + 2]).strip()
        if len(piece) >= 3 and full.find(piece) >= len(tok.decode(ids[:k])):
            return piece, k
    pytest.skip("the demo model's greedy text has no usable tag piece")


def test_learned_policy_switches_on_a_tag_the_model_writes(deterministic_engine):
    """The tag is taken from one run and must reappear in another whose thinking is continued segment by segment:
    on the deterministic engine both runs write the same tokens (on a caching one, a near-tie may break apart)."""
    eng = deterministic_engine
    ctx = OffloadContext(thinking_budget=40, solution_budget=8, sampling=GREEDY, seed=0)
    base = run_offload(eng, eng, [(job(eng), Policy("none"))], ctx).generations[0]
    ids = eng.tokenizer.encode(base.thinking_text)
    tag, k = pick_tag(eng.tokenizer, ids)
    learned = OffloadContext(thinking_budget=40, solution_budget=8, sampling=GREEDY, seed=0, open_tag=tag,
                             close_tag="</never-written>", span_cap=5)
    out = run_offload(eng, eng, [(job(eng), Policy("learned"))], learned)
    g = out.generations[0]
    segs = g.segments
    assert [s.model for s in segs[:3]] == ["small", "big", "small"], (tag, segs)
    first = eng.tokenizer.decode(eng.tokenizer.encode(g.thinking_text)[: segs[0].length])
    assert tag in first  # the small model handed over right after writing the tag ...
    assert segs[0].length <= k + 3
    assert segs[1].length == 5  # ... and the big model wrote exactly the span cap, then handed back
    assert segs[1].context == segs[0].context + segs[0].length
    assert g.extra["small_tokens"] + g.extra["big_tokens"] == g.total_tokens == sum(s.length for s in segs)
    assert g.extra["big_tokens"] >= 5 and g.extra["switches"] >= 2


@pytest.fixture(scope="module")
def offload_run(demo_engine, tmp_path_factory):
    spec = OffloadSpec(
        name="demo-offload", engine=EngineSpec(model="smollm2-demo", max_model_len=2048),
        big=EngineSpec(model="smollm2-demo", max_model_len=2048), benchmarks=("arith",),
        policies=("none", "random-0.5", "big", "learned", "random-exact-0.25", "random-exact-0.5", "step-0.5"),
        thinking_budget=48, solution_budget=16, span=4,
        sampling=Sampling(temperature=0.6, top_p=0.95), limit=12, benchmark_options={"count": 12},
        grade_workers=1, out_root=str(tmp_path_factory.mktemp("offload")),
    )
    result = run_offload_sweep(spec, engines=(demo_engine, demo_engine))
    return spec, result


def test_random_ratio_and_token_accounting_on_the_real_engine(offload_run):
    spec, result = offload_run
    gens = RunStore(spec.run_dir).generations()
    assert len(gens) == 84 and result.generated == 84
    random_gens = [g for g in gens if g.budget == "random-0.5"]
    for g in gens:
        assert g.segments and sum(s.length for s in g.segments) == g.total_tokens
        assert g.extra["small_tokens"] + g.extra["big_tokens"] == g.total_tokens
        pos = 0
        for s in g.segments:
            assert s.start == pos
            pos += s.length
        if g.budget in ("none", "big"):
            assert {s.model for s in g.segments} == ({"small"} if g.budget == "none" else {"big"})
    big = sum(g.extra["big_tokens"] for g in random_gens)
    total = sum(g.total_tokens for g in random_gens)
    spans = sum(-(-g.thinking_tokens // 4) + -(-g.solution_tokens // 4) for g in random_gens)
    se = (0.25 / spans) ** 0.5
    assert abs(big / total - 0.5) <= 4 * se, (big / total, se, spans)
    assert sum(g.extra["switches"] for g in random_gens) > 10
    rows = {r["policy"]: r for r in read_offload_summary(spec.run_dir / "offload_summary.csv")}
    assert set(rows) == set(spec.policies)
    assert float(rows["random-0.5"]["offload_ratio"]) == pytest.approx(big / total, abs=1e-5)


def test_exact_ratio_step_handoffs_and_cost_on_the_real_engine(offload_run):
    spec, _ = offload_run
    gens = RunStore(spec.run_dir).generations()
    rows = {r["policy"]: r for r in read_offload_summary(spec.run_dir / "offload_summary.csv")}
    for label, asked in (("random-exact-0.25", 0.25), ("random-exact-0.5", 0.5)):
        mine = [g for g in gens if g.budget == label]
        share = sum(g.extra["big_tokens"] for g in mine) / sum(g.total_tokens for g in mine)
        assert abs(share - asked) <= 0.01, (label, share)  # coin flips (random-R) miss by a few percent here
        assert float(rows[label]["offload_ratio"]) == pytest.approx(share, abs=1e-5)
    for g in (g for g in gens if g.budget == "step-0.5"):  # where steps fall is checked on the fake engine
        assert sum(s.length for s in g.segments) == g.total_tokens
    params = 134_515_008 / 1e9  # the demo model, counted from its safetensors header, in both roles
    for label, r in rows.items():
        mine = [g for g in gens if g.budget == label]
        assert float(r["mean_handoffs"]) == pytest.approx(sum(g.extra["handoffs"] for g in mine) / len(mine), rel=1e-4)
        assert float(r["small_params_b"]) == float(r["big_params_b"]) == pytest.approx(params, rel=1e-5)
        assert float(r["avg_params_b"]) == pytest.approx(params, rel=1e-5)  # same model: cost per token is its size
        assert float(r["cost_gparam_tokens"]) == pytest.approx(params * float(r["mean_total_tokens"]), rel=1e-4)
    assert float(rows["none"]["mean_handoffs"]) == 0 and float(rows["random-exact-0.5"]["mean_handoffs"]) > 1


def test_calibrate_the_demo_engine_and_simulate_the_run_with_it(demo_engine, offload_run, tmp_path):
    spec, _ = offload_run
    cost, measured = calibrate(demo_engine, CalibrationPlan(prompt_tokens=256, decode_tokens=16, context_tokens=512, repeats=1))
    assert cost.prefill_tps > cost.decode_tps > 0  # a prompt is processed in parallel, tokens one by one
    assert cost.decode_slowdown_per_1k >= 0 and measured["prefill_tps"]
    assert cost.request_overhead_s >= 0 and cost.prefix_block_tokens == demo_engine.prefix_block_tokens > 1
    path = tmp_path / "demo.json"
    profile_for("smollm2-demo", cost, measured, demo_engine.identity()).save(path)
    prof = load_profile(str(path))
    costs = pick_costs(prof, None, None, "smollm2-demo", "smollm2-demo")
    rows, _ = write_offload_outputs(RunStore(spec.run_dir), costs, tmp_path)
    by = {r.policy: r for r in rows}
    # Same model in both roles: offloading changes nothing in the simulated time of the same tokens.
    assert by["random-0.5"].speedup_vs_big_pipe == pytest.approx(1.0)
    assert by["none"].latency_pipe_s > 0 and by["none"].profile.startswith("calibrated-")

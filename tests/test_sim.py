"""The latency simulator: SplitReason's own figures, the vectorised model against the plain one, profiles."""

import json
import random

import numpy as np
import pytest

from evalkit.errors import EvalkitError
from evalkit.sim.latency import SegmentTable, decode_seconds, simulate, simulate_sample
from evalkit.sim.profile import CostProfile, ModelCost, merge_profiles, pick_costs
from evalkit.sim.profiles import SPLITREASON_A6000, load_profile
from evalkit.types import Segment

PROMPT, GENERATED = 2048, 16384


def splitreason_sample(offloaded: int, spans: int = 3) -> list[Segment]:
    """16384 generated tokens; `offloaded` of them by the big model in `spans` spans spread over the text."""
    if offloaded == 0:
        return [Segment("small", 0, GENERATED, PROMPT)]
    segs, pos = [], 0
    gap = (GENERATED - offloaded) // (spans + 1)
    sizes = [offloaded // spans + (1 if i < offloaded % spans else 0) for i in range(spans)]
    for size in sizes:
        segs.append(Segment("small", pos, gap, PROMPT + pos))
        pos += gap
        segs.append(Segment("big", pos, size, PROMPT + pos))
        pos += size
    segs.append(Segment("small", pos, GENERATED - pos, PROMPT + pos))
    return segs


@pytest.mark.parametrize("offloaded, expected", [(0, 8.76), (768, 6.42), (1536, 5.07), (221, 7.93)])
def test_pipelined_speedup_reproduces_splitreason(offloaded, expected):
    """SplitReason's simulator gives 8.76x / 6.42x / 5.07x for 0 / 768 / 1536 offloaded tokens (1.5B small, 32B
    big, A6000). At 221 tokens (1.35 %) theirs rounds to zero chunks; evalkit counts them: about 7.93x."""
    costs = pick_costs(SPLITREASON_A6000, None, None)
    assert (costs.small_key, costs.big_key) == ("1.5B", "32B")
    segs = splitreason_sample(offloaded)
    assert sum(s.length for s in segs) == GENERATED and sum(s.length for s in segs if s.model == "big") == offloaded
    mine = simulate_sample(PROMPT, segs, costs).pipelined
    big_only = simulate_sample(PROMPT, segs, costs, force="big").pipelined
    assert big_only == pytest.approx(PROMPT / 2595 + GENERATED / 16)
    assert big_only / mine == pytest.approx(expected, rel=0.01)
    table = SegmentTable.from_samples([(PROMPT, segs)])
    _, pipe = simulate(table, costs)
    _, pipe_big = simulate(table, costs, force="big")
    assert pipe_big[0] / pipe[0] == pytest.approx(expected, rel=0.01)


def test_sequential_pays_the_prefill_of_unseen_tokens_on_each_switch():
    small, big = ModelCost(1000.0, 10.0), ModelCost(100.0, 2.0)
    costs = pick_costs(CostProfile("t", {"s": small, "b": big}), "s", "b")
    segs = [Segment("small", 0, 50, 200), Segment("big", 50, 10, 250), Segment("small", 60, 40, 260)]
    got = simulate_sample(200, segs, costs)
    seq = (200 / 1000 + 50 / 10) + (250 / 100 + 10 / 2) + (10 / 1000 + 40 / 10)
    pipe = max(200 / 1000, 200 / 100) + max(50 / 10, 50 / 100) + max(10 / 2, 10 / 1000) + max(40 / 10, 40 / 100)
    assert got.sequential == pytest.approx(seq) and got.pipelined == pytest.approx(pipe)
    # The same tokens with no switch are cheaper sequentially than with one.
    assert simulate_sample(200, segs, costs, force="small").sequential == pytest.approx(200 / 1000 + 100 / 10)


def test_decode_slowdown_is_the_exact_sum_over_tokens():
    cost = ModelCost(1000.0, 50.0, decode_slowdown_per_1k=0.3)
    per_token = sum((1 + 0.3 * c / 1000) / 50 for c in range(700, 700 + 333))
    assert decode_seconds(cost, 700, 333) == pytest.approx(per_token)
    # Chunking a segment does not change its cost.
    assert decode_seconds(cost, 700, 100) + decode_seconds(cost, 800, 233) == pytest.approx(per_token)


def random_samples(n: int, seed: int = 0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prompt = rng.randint(1, 500)
        segs, pos, ctx = [], 0, prompt
        for _ in range(rng.randint(0, 7)):
            if rng.random() < 0.2:
                ctx += rng.randint(1, 5)  # inserted tokens (a forced </think>)
            length = rng.randint(1, 300)
            segs.append(Segment(rng.choice(("small", "big")), pos, length, ctx))
            pos += length
            ctx += length
        out.append((prompt, segs))
    return out


@pytest.mark.parametrize("force", [None, "small", "big"])
def test_vectorised_simulation_equals_the_plain_one(force):
    costs = pick_costs(
        CostProfile("t", {"s": ModelCost(5000.0, 80.0, 0.05, 0.01, 16), "b": ModelCost(900.0, 12.0, 0.2, 0.03, 128)}), "s", "b"
    )
    samples = random_samples(400)
    seq, pipe = simulate(SegmentTable.from_samples(samples), costs, force=force)
    want = [simulate_sample(p, s, costs, force=force) for p, s in samples]
    np.testing.assert_allclose(seq, [w.sequential for w in want], rtol=1e-12)
    np.testing.assert_allclose(pipe, [w.pipelined for w in want], rtol=1e-12)


def test_profiles_load_save_merge_and_fail_clearly(tmp_path):
    assert load_profile("splitreason-a6000") is SPLITREASON_A6000
    p = CostProfile("mine", {"m": ModelCost(123.0, 4.5, 0.01)}, hardware="cpu", extra={"x": 1})
    path = tmp_path / "mine.json"
    p.save(path)
    back = load_profile(str(path))
    assert back.models == p.models and back.name == "mine"
    merged = merge_profiles([SPLITREASON_A6000, back])
    pair = pick_costs(merged, "m", "70B")
    assert pair.small.prefill_tps == 123.0 and pair.big.decode_tps == 9.0
    assert pick_costs(back, None, None, "m", "m").small_key == "m"  # a one-entry profile serves both roles
    with pytest.raises(EvalkitError, match="unknown cost profile"):
        load_profile("no-such-profile")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"models": {"x": {"prefill_tps": -1, "decode_tps": 3}}}))
    with pytest.raises(EvalkitError, match="positive"):
        load_profile(str(bad))
    bad.write_text("{not json")
    with pytest.raises(EvalkitError, match="cannot read"):
        load_profile(str(bad))
    with pytest.raises(EvalkitError, match="--big-cost"):
        pick_costs(SPLITREASON_A6000, "1.5B", "9000B")


def test_table_from_json_rows_equals_table_from_generations():
    from evalkit.types import Generation

    gens = []
    for i, (p, segs) in enumerate(random_samples(50, seed=4)):
        total = sum(s.length for s in segs)
        gens.append(Generation("b", f"p{i}", 0, "offload", "none", 10, 10, total, 0, False, "stop", "eos", "", "", 0,
                               tuple(segs), {"prompt_tokens": p}))
    a = SegmentTable.from_generations(gens)
    b = SegmentTable.from_rows([g.to_json() for g in gens])
    for name in ("prompt", "sample", "role", "context", "length"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    with pytest.raises(EvalkitError, match="not small or big"):
        SegmentTable.from_rows([{"segments": [{"model": "medium", "start": 0, "length": 1, "context": 1}]}])


def test_request_overhead_is_charged_once_per_segment_in_both_deployments():
    small, big = ModelCost(1000.0, 10.0, request_overhead_s=0.3), ModelCost(100.0, 2.0, request_overhead_s=0.7)
    costs = pick_costs(CostProfile("t", {"s": small, "b": big}), "s", "b")
    segs = [Segment("small", 0, 50, 200), Segment("big", 50, 10, 250), Segment("small", 60, 40, 260)]
    got = simulate_sample(200, segs, costs)
    seq = (200 / 1000 + 0.3 + 50 / 10) + (250 / 100 + 0.7 + 10 / 2) + (10 / 1000 + 0.3 + 40 / 10)
    pipe = (max(200 / 1000, 200 / 100) + max(0.3 + 50 / 10, 50 / 100) + max(0.7 + 10 / 2, 10 / 1000)
            + max(0.3 + 40 / 10, 40 / 100))
    assert got.sequential == pytest.approx(seq) and got.pipelined == pytest.approx(pipe)
    s, p = simulate(SegmentTable.from_samples([(200, segs)]), costs)
    assert s[0] == pytest.approx(seq) and p[0] == pytest.approx(pipe)
    # A sample with no segments sent no request: only its prompt's prefill.
    assert simulate_sample(200, [], costs).sequential == pytest.approx(200 / 1000)


def test_request_overhead_in_profiles_defaults_to_zero_and_must_not_be_negative(tmp_path):
    path = tmp_path / "p.json"
    CostProfile("p", {"m": ModelCost(100.0, 5.0, 0.0, 0.04)}).save(path)
    assert load_profile(str(path)).models["m"].request_overhead_s == 0.04
    path.write_text(json.dumps({"models": {"m": {"prefill_tps": 100, "decode_tps": 5}}}))  # written before it existed
    assert load_profile(str(path)).models["m"].request_overhead_s == 0.0
    with pytest.raises(EvalkitError, match="request_overhead_s"):
        ModelCost(100.0, 5.0, request_overhead_s=-0.1)


class ClockedEngine:
    """A fake engine on a simulated clock with known costs and a prefix cache: a request costs `overhead` plus
    the prefill of its uncached tokens (which yields the first token) plus one decode step per further token."""

    def __init__(self, overhead: float, prefill_tps: float, decode_s: float) -> None:
        from fakes import FakeEngine

        self.inner = FakeEngine(lambda text: "y" * 10_000)
        self.tokenizer, self.max_model_len = self.inner.tokenizer, 100_000
        self.overhead, self.prefill_tps, self.decode_s = overhead, prefill_tps, decode_s
        self.now, self.cached = 0.0, set()
        self.prefix_block_tokens = 128

    def clock(self) -> float:
        return self.now

    def cost(self, prompt: tuple, tokens: int) -> float:
        new = 1 if prompt in self.cached else len(prompt)  # a cached prompt still computes its last token
        return self.overhead + new / self.prefill_tps + (tokens - 1) * self.decode_s

    def generate(self, requests):
        out = self.inner.generate(requests)
        for r, res in zip(requests, out):
            self.now += self.cost(tuple(r.prompt_ids), len(res.token_ids))
            self.cached.add(tuple(r.prompt_ids))
        return out


def test_calibration_recovers_the_costs_so_a_simulated_request_costs_what_it_took(monkeypatch):
    from evalkit.sim import calibrate as cal

    eng = ClockedEngine(overhead=0.05, prefill_tps=2000.0, decode_s=0.02)
    monkeypatch.setattr(cal, "_clock", eng.clock)
    cost, meas = cal.calibrate(eng, cal.CalibrationPlan(prompt_tokens=256, decode_tokens=32, context_tokens=512, repeats=2))
    assert cost.prefill_tps == pytest.approx(2000.0) and cost.decode_tps == pytest.approx(50.0)
    assert cost.decode_slowdown_per_1k == pytest.approx(0.0, abs=1e-9)
    # The first token comes out of the prefill, so the overhead the simulator charges is the fixed cost less
    # the one decode step it charges for that token.
    assert cost.request_overhead_s == pytest.approx(0.05 - 0.02) and len(meas["request_overhead_s"]) == 2
    assert cost.prefix_block_tokens == 128  # read from the engine
    costs = pick_costs(CostProfile("c", {"m": cost}), "m", "m")
    for prompt, tokens in ((300, 40), (20, 1), (1000, 7)):
        seconds = simulate_sample(prompt, [Segment("small", 0, tokens, prompt)], costs).sequential
        assert seconds == pytest.approx(eng.cost(tuple(range(prompt)), tokens))


def test_a_block_wise_prefix_cache_recomputes_from_the_last_full_block_on_a_switch_back():
    small, big = ModelCost(1000.0, 10.0, prefix_block_tokens=128), ModelCost(100.0, 2.0, prefix_block_tokens=128)
    costs = pick_costs(CostProfile("t", {"s": small, "b": big}), "s", "b")
    segs = [Segment("small", 0, 50, 200), Segment("big", 50, 10, 250), Segment("small", 60, 40, 260),
            Segment("big", 100, 5, 300)]
    # small saw 250 tokens but cached only its first full block (128): it recomputes 260 - 128 = 132 tokens;
    # big saw 260, cached 256 (two blocks of 128): it recomputes 300 - 256 = 44.
    seq = (200 / 1000 + 50 / 10) + (250 / 100 + 10 / 2) + (132 / 1000 + 40 / 10) + (44 / 100 + 5 / 2)
    assert simulate_sample(200, segs, costs).sequential == pytest.approx(seq)
    assert simulate(SegmentTable.from_samples([(200, segs)]), costs)[0][0] == pytest.approx(seq)
    exact = pick_costs(CostProfile("t", {"s": ModelCost(1000.0, 10.0), "b": ModelCost(100.0, 2.0)}), "s", "b")
    assert simulate_sample(200, segs, exact).sequential == pytest.approx(seq - 122 / 1000 - 4 / 100)
    with pytest.raises(EvalkitError, match="prefix_block_tokens"):
        ModelCost(100.0, 5.0, prefix_block_tokens=0)


def test_empty_requests_cost_their_prefill_and_overhead_but_are_no_switch():
    from evalkit.offload_summary import offload_rows_from_json
    from evalkit.types import Generation, GradeRecord

    small, big = ModelCost(1000.0, 10.0, request_overhead_s=0.1), ModelCost(100.0, 2.0, request_overhead_s=0.5)
    costs = pick_costs(CostProfile("t", {"s": small, "b": big}), "s", "b")
    segs = (Segment("small", 0, 50, 200), Segment("small", 50, 40, 253))
    # The big model was handed the sequence at 250 and ended at once; the small one went on after 3 inserted tokens.
    g = Generation("b", "p", 0, "offload", "random-0.5", 50, 40, 50, 40, True, "length", "eos", "", "", 0, segs,
                   {"prompt_tokens": 200, "empty_requests": [["big", 250]]})
    seq = (200 / 1000 + 0.1 + 50 / 10) + (250 / 100 + 0.5) + (3 / 1000 + 0.1 + 40 / 10)
    a, b = SegmentTable.from_generations([g]), SegmentTable.from_rows([g.to_json()])
    for name in ("prompt", "sample", "role", "context", "length"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert list(b.length) == [50, 0, 40] and list(b.role) == [0, 1, 0]
    assert simulate(b, costs)[0][0] == pytest.approx(seq)
    grade = GradeRecord("b", "p", 0, "offload", "random-0.5", True, "ok", "7", "")
    (row,) = offload_rows_from_json([g.to_json()], {g.key: grade}, costs)
    assert row.mean_switches == 0 and row.latency_seq_s == pytest.approx(seq)

"""Control logic of the offload controller on the character-level fake engine (real engine: test_offload_engine).

The fake small model writes lowercase, the fake big model uppercase, so every recorded segment can be checked
against the text it claims to cover.
"""

import hashlib

import pytest

from evalkit.engines.base import ChatTokenizer
from evalkit.errors import EvalkitError
from evalkit.reasoning.jobs import Job
from evalkit.reasoning.offload import OffloadContext, Policy, parse_policies, policy_from_label, run_offload
from evalkit.types import Problem, Sampling
from fakes import CharTokenizer, FakeEngine

MARK = "<assistant><think>\n"


def _generated(prompt: str) -> str:
    return prompt.split(MARK, 1)[1]


def _think_len(prompt: str) -> int:
    """A problem-specific thinking length between 20 and 219 characters, independent of who writes."""
    head = prompt.split(MARK, 1)[0]
    return 20 + int(hashlib.sha256(head.encode()).hexdigest(), 16) % 200


def scripted(letter: str):
    """Thinks `letter` until the problem's length, closes thinking, answers with a boxed 7 in the same case."""

    def respond(prompt: str) -> str:
        g = _generated(prompt)
        if "</think>" in g:
            return (letter * 5) + " \\boxed{7}"
        return letter * max(0, _think_len(prompt) - len(g)) + "</think>"

    return respond


def problems(n: int):
    return [Problem(id=f"p{i}", benchmark="t", kind="math", prompt=f"problem number {i}", answer="7") for i in range(n)]


def items(engine, policies, n=4, samples=1):
    out = []
    for p in problems(n):
        for s in range(samples):
            job = Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt)), s, ())
            out += [(job, pol) for pol in policies]
    return out


def ctx(**kw):
    base = dict(thinking_budget=400, solution_budget=40, sampling=Sampling(temperature=0.0), seed=3)
    return OffloadContext(**{**base, **kw})


def check_segments(g, letters=True):
    """Segments tile the generated tokens, their roles match the letters, and small + big = total."""
    text = g.thinking_text + g.solution_text
    assert len(text) == g.total_tokens  # one character per token
    for markup in ("</bigmodel>", "<bigmodel>", "</think>", "\\boxed{7}"):
        text = text.replace(markup, " " * len(markup))  # same length: positions stay put
    pos = 0
    for s in g.segments:
        assert s.start == pos and s.length > 0
        piece = set(text[s.start : s.start + s.length])
        if letters:  # the small model's letter is "a", the big model's "A"/"B" (markup fragments have neither)
            assert not piece & ({"A", "B"} if s.model == "small" else {"a"}), (s, g)
        pos += s.length
    assert pos == g.total_tokens
    assert g.extra["small_tokens"] + g.extra["big_tokens"] == g.total_tokens
    # context = prompt + everything before the segment (+ the appended </think> in the solution phase)
    for s in g.segments:
        appended = g.extra["appended_tokens"] if s.start >= g.thinking_tokens else 0
        assert s.context == g.extra["prompt_tokens"] + s.start + appended


def test_policies_parse_and_labels():
    pols = parse_policies("none,learned,random,big", "0.1,0.25")
    assert [p.label for p in pols] == ["none", "learned", "random-0.1", "random-0.25", "big"]
    assert policy_from_label("random-0.25") == Policy("random", 0.25)
    for bad, ratios in (("fast", "0.1"), ("random", ""), ("random", "1.5"), ("random", "x"), ("", "0.1")):
        with pytest.raises(EvalkitError):
            parse_policies(bad, ratios)
    with pytest.raises(EvalkitError):
        ctx(open_tag="<x>", close_tag="<x>")


def test_none_and_big_use_one_model_and_phases_follow_the_sweep():
    small, big = FakeEngine(scripted("a")), FakeEngine(scripted("B"))
    out = run_offload(small, big, items(small, [Policy("none"), Policy("big")]), ctx(thinking_budget=100))
    for g in out.generations:
        check_segments(g)
        roles = {s.model for s in g.segments}
        assert roles == ({"small"} if g.budget == "none" else {"big"})
        assert g.strategy == "offload"
        if g.forced:  # thinking longer than 100: cut, `</think>` appended, solution still written
            assert g.thinking_tokens == 100 and g.extra["appended_tokens"] == len("</think>")
        else:
            assert g.thinking_text.endswith("</think>") and g.thinking_finish == "stop"
        assert g.solution_text.endswith("\\boxed{7}") and g.solution_finish == "eos"
    assert any(g.forced for g in out.generations) and any(not g.forced for g in out.generations)


def test_random_policy_measured_ratio_matches_the_asked_one():
    small, big = FakeEngine(scripted("a")), FakeEngine(scripted("B"))
    pols = [Policy("random", r) for r in (0.0, 0.1, 0.5, 0.9, 1.0)]
    out = run_offload(small, big, items(small, pols, n=60, samples=3), ctx(span=8))
    by: dict[str, list] = {}
    for g in out.generations:
        check_segments(g)
        by.setdefault(g.budget, []).append(g)
    for pol in pols:
        gens = by[pol.label]
        big_tok = sum(g.extra["big_tokens"] for g in gens)
        total = sum(g.total_tokens for g in gens)
        spans = sum(-(-g.thinking_tokens // 8) + -(-g.solution_tokens // 8) for g in gens)
        se = (pol.ratio * (1 - pol.ratio) / spans) ** 0.5
        assert abs(big_tok / total - pol.ratio) <= 4 * se + 1e-12, (pol, big_tok / total, se)
    # Model switches happen only on span boundaries (8 tokens), counted from the start of each phase.
    for g in by["random-0.5"]:
        for s in g.segments:
            offset = s.start - g.thinking_tokens if s.start >= g.thinking_tokens else s.start
            assert offset % 8 == 0, (s, g.thinking_tokens)


def test_random_draws_are_reproducible_and_independent_of_batching():
    pols = [Policy("random", 0.3)]
    a = run_offload(FakeEngine(scripted("a")), FakeEngine(scripted("B")), items(FakeEngine(scripted("a")), pols, n=6), ctx(span=4))
    eng_s, eng_b = FakeEngine(scripted("a")), FakeEngine(scripted("B"))
    b = [g for it in items(eng_s, pols, n=6) for g in run_offload(eng_s, eng_b, [it], ctx(span=4)).generations]
    assert [g.segments for g in a.generations] == [g.segments for g in b]


def tagger(prompt: str) -> str:
    """A small model that hands over after every 6 letters of its own."""
    g = _generated(prompt)
    if "</think>" in g:
        return "aa \\boxed{7}"
    if len(g) > 120:
        return "</think>"
    return "aaaaaa<bigmodel>" * 50


def closer(prompt: str) -> str:
    g = _generated(prompt)
    if "</think>" in g:
        return "AA \\boxed{7}"
    return "BBB</bigmodel>"


def test_learned_policy_switches_on_the_tags():
    small, big = FakeEngine(tagger), FakeEngine(closer)
    out = run_offload(small, big, items(small, [Policy("learned")], n=2), ctx())
    for g in out.generations:
        check_segments(g)
        text = g.thinking_text
        think_segs = [s for s in g.segments if s.start < g.thinking_tokens]
        assert [s.model for s in think_segs[:4]] == ["small", "big", "small", "big"]
        for s in think_segs[:-1]:
            piece = text[s.start : s.start + s.length]
            assert piece.endswith("<bigmodel>" if s.model == "small" else "</bigmodel>"), piece
        assert g.extra["switches"] >= 6 and g.thinking_finish == "stop"
    # Every request a controller made reached exactly one engine once (streamed: batches form as requests arrive).
    assert sum(len(c) for c in small.calls + big.calls) == out.calls == sum(g.extra["engine_calls"] for g in out.generations)


def test_learned_span_cap_hands_back_to_the_small_model():
    def runaway(prompt: str) -> str:
        return "B" * 1000

    small, big = FakeEngine(tagger), FakeEngine(runaway)
    out = run_offload(small, big, items(small, [Policy("learned")], n=1), ctx(span_cap=7, thinking_budget=80))
    g = out.generations[0]
    check_segments(g)
    bigs = [s for s in g.segments if s.model == "big"]
    assert bigs and all(s.length == 7 for s in bigs if s.start + s.length < g.thinking_tokens)
    assert g.segments[1].model == "big" and g.segments[2].model == "small"


def test_same_engine_object_serves_both_roles():
    eng = FakeEngine(scripted("a"))
    out = run_offload(eng, eng, items(eng, [Policy("random", 0.5), Policy("none")], n=5), ctx(span=4))
    assert out.calls == sum(len(c) for c in eng.calls) == sum(g.extra["engine_calls"] for g in out.generations)
    for g in out.generations:
        check_segments(g, letters=False)


def test_different_tokenizers_are_refused_up_front():
    class OtherTok(CharTokenizer):
        def encode(self, text, add_special_tokens=False):
            return [ord(c) + 1 for c in text]

    small, big = FakeEngine(scripted("a")), FakeEngine(scripted("B"))
    big.tokenizer = ChatTokenizer(OtherTok())
    with pytest.raises(EvalkitError, match="different tokenizers"):
        run_offload(small, big, items(small, [Policy("none")], n=1), ctx())
    assert small.calls == [] and big.calls == []


def test_prompt_too_long_for_the_solution_budget():
    small = FakeEngine(scripted("a"), max_model_len=30)
    with pytest.raises(EvalkitError, match="max-model-len"):
        run_offload(small, small, items(small, [Policy("none")], n=1), ctx())


def test_new_policy_labels_round_trip():
    pols = parse_policies("learned,random,step", "0.25,0.5", exact=True)
    assert [p.label for p in pols] == ["learned", "random-exact-0.25", "random-exact-0.5", "step-exact-0.25", "step-exact-0.5"]
    for p in [*pols, *parse_policies("random,step", "0.1")]:
        assert policy_from_label(p.label) == p
    assert Policy("step", 0.3).asked_ratio == 0.3


def steady(letter: str):
    """Like `scripted`, but the answer's length (10..39) is the problem's, whoever writes which part of it: where a
    sample stops does not depend on which model wrote it, the assumption behind any asked ratio."""

    def respond(prompt: str) -> str:
        g = _generated(prompt)
        if "</think>" in g:
            answer = g.split("</think>", 1)[1]
            return letter * max(0, 10 + _think_len(prompt) % 30 - len(answer))
        return letter * max(0, _think_len(prompt) - len(g)) + "</think>"

    return respond


def test_exact_random_hits_the_asked_ratio_within_one_percent():
    # Coin flips per span (random-R) spread around R; the running deficit (random-exact-R) keeps every sample within
    # R(1-R) x one cycle of R x its tokens, so over a policy the share lands within 1 % of R.
    small, big = FakeEngine(steady("a")), FakeEngine(steady("B"))
    pols = [Policy("random", r, exact=True) for r in (0.1, 0.25, 0.5, 0.75)]
    out = run_offload(small, big, items(small, pols, n=40, samples=2), ctx(span=8))
    by: dict[str, list] = {}
    for g in out.generations:
        check_segments(g)
        by.setdefault(g.budget, []).append(g)
        # within one span of R x tokens in every sample
        r = policy_from_label(g.budget).ratio
        cycle = max(8, 2 / min(r, 1 - r))
        assert abs(g.extra["big_tokens"] - r * g.total_tokens) <= r * (1 - r) * cycle + 1, (g.budget, g.extra, g.total_tokens)
    for pol in pols:
        gens = by[pol.label]
        share = sum(g.extra["big_tokens"] for g in gens) / sum(g.total_tokens for g in gens)
        assert abs(share - pol.ratio) <= 0.01, (pol.label, share)
        assert all(g.extra["handoffs"] >= 1 for g in gens if g.total_tokens > 2 * max(8, 2 / min(pol.ratio, 1 - pol.ratio)))


def stepper(letter: str):
    """Writes steps of 9 letters and a blank line (11 characters each) until 7 steps, then closes thinking."""

    def respond(prompt: str) -> str:
        g = _generated(prompt)
        if "</think>" in g:
            return letter * 5 + " \\boxed{7}"
        steps = g.count("\n\n")
        if steps >= 7:
            return "</think>"
        return letter * 9 + "\n\n"

    return respond


def test_step_policy_offloads_whole_steps():
    small, big = FakeEngine(stepper("a")), FakeEngine(stepper("B"))
    pols = [Policy("step", 0.5), Policy("step", 0.3, exact=True)]
    out = run_offload(small, big, items(small, pols, n=30), ctx())
    for g in out.generations:
        check_segments(g)
        steps = g.thinking_text.split("\n\n")[:-1]
        assert len(steps) == 7 and all(set(s) in ({"a"}, {"B"}) for s in steps)  # never a step split between models
        for s in g.segments:  # every switch inside thinking falls on a step boundary
            if s.start < g.thinking_tokens:
                assert s.start % 11 == 0, (s, g.thinking_text)
    coin = [g for g in out.generations if g.budget == "step-0.5"]
    assert {g.extra["big_tokens"] > 0 for g in coin} == {True, False} or len({g.extra["big_tokens"] for g in coin}) > 1
    exact = [g for g in out.generations if g.budget == "step-exact-0.3"]
    for g in exact:  # deficit per step: the big share stays within one step (+ the answer) of 0.3
        assert abs(g.extra["big_tokens"] - 0.3 * g.total_tokens) <= 11 + 16, g.extra
    assert all(g.extra["handoffs"] >= 1 for g in exact)


def test_exact_random_lands_on_the_ratio_when_samples_run_to_their_caps():
    # a model that never stops by itself: thinking is cut at its budget, the solution runs to its budget
    def endless(letter):
        return lambda prompt: letter * 1000

    small, big = FakeEngine(endless("a")), FakeEngine(endless("B"))
    pols = [Policy("random", r, exact=True) for r in (0.1, 0.25, 0.5, 0.9)]
    out = run_offload(small, big, items(small, pols, n=5), ctx(thinking_budget=101, solution_budget=37, span=8))
    for g in out.generations:
        assert g.total_tokens == 101 + 37
        assert abs(g.extra["big_tokens"] - policy_from_label(g.budget).ratio * 138) <= 1, (g.budget, g.extra)


def test_parameter_counts_from_safetensors_headers_and_flags(tmp_path):
    import json as _json
    import struct

    from evalkit.sim.params import count_params, parse_params

    header = {"embed.weight": {"dtype": "F32", "shape": [10, 4], "data_offsets": [0, 160]},
              "layer.weight": {"dtype": "F32", "shape": [4, 4], "data_offsets": [160, 224]}, "__metadata__": {"x": "y"}}
    raw = _json.dumps(header).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 224)
    assert count_params(str(tmp_path)) == 56
    assert count_params("not-a-model") is None
    assert (parse_params("1.5B"), parse_params("135M"), parse_params("7e9")) == (1.5e9, 135e6, 7e9)
    with pytest.raises(EvalkitError, match="1.5B"):
        parse_params("lots")


def test_a_request_that_writes_nothing_is_no_segment_but_is_kept_for_the_simulator():
    """The big model ends its answer at once (EOS): no tokens, so no segment, but the request prefilled the
    hand-off context and is listed with its role and context."""

    def silent_answer(prompt: str) -> str:
        return "" if "</think>" in _generated(prompt) else "B" * 30

    small, big = FakeEngine(scripted("a")), FakeEngine(silent_answer)
    out = run_offload(small, big, items(small, [Policy("big"), Policy("none")], n=1), ctx(thinking_budget=12))
    by = {g.budget: g for g in out.generations}
    g = by["big"]
    check_segments(g)
    assert g.solution_tokens == 0 and g.solution_finish == "eos" and g.forced
    assert g.extra["empty_requests"] == [["big", g.extra["prompt_tokens"] + 12 + len("</think>")]]
    assert g.extra["engine_calls"] == 2 and len(g.segments) == 1
    assert "empty_requests" not in by["none"].extra  # only listed when there is one

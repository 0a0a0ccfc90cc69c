"""One Engine contract, three engines: in-process vLLM, a real vLLM server through the openai engine, and
transformers. Every test runs on the real demo model (SmolLM2-135M) under each engine.

The contract (evalkit/types.py, engines/base.py): token ids in, token ids out; `token_ids` holds every generated
token, stop tokens included, EOS excluded; finish is "eos" (the model's EOS), "stop" (a stop id or string) or
"length"; results come back in request order; a seed fixes a sampled result; continuing from a prefix of an
output's tokens reproduces the rest of it (greedy), which is what budget cuts rely on.

`engine` is each kind in its normal configuration; its tests check what holds for any batch. Tests that compare
one call's tokens with another's use `det_engine`, the same kind in its deterministic configuration (one sequence
at a time, no prefix cache; see conftest.py): in a batch, or over a prefix another request cached, a near-tie in
bf16 may break the other way, so such a comparison on the normal configuration passes or fails by chance.
"""

from __future__ import annotations

import pytest

from evalkit.benchmarks import load_problems
from evalkit.config import EngineSpec
from evalkit.reasoning.budget import BudgetContext
from fakes import run_elastic
from evalkit.reasoning.jobs import Job
from evalkit.types import GenRequest, Sampling

pytestmark = pytest.mark.engine

GREEDY = Sampling(temperature=0.0, top_p=1.0)
HOT = Sampling(temperature=1.0, top_p=0.95)
ENGINES = ["vllm", "openai", "hf"]


@pytest.fixture(scope="module")
def openai_engine(vllm_servers):
    from evalkit.engines.openai import OpenAIEngine

    (server,) = vllm_servers.replicas(1)
    eng = OpenAIEngine(EngineSpec(kind="openai", model="smollm2-demo", endpoints=(server.url,)))
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def det_openai_engine(deterministic_vllm_servers):
    from evalkit.engines.openai import OpenAIEngine

    (server,) = deterministic_vllm_servers.replicas(1)
    eng = OpenAIEngine(EngineSpec(kind="openai", model="smollm2-demo", endpoints=(server.url,)))
    yield eng
    eng.close()


@pytest.fixture(params=ENGINES)
def engine(request):
    name = {"vllm": "demo_engine", "openai": "openai_engine", "hf": "hf_engine"}[request.param]
    return request.getfixturevalue(name)


@pytest.fixture(params=ENGINES)
def det_engine(request):
    name = {"vllm": "deterministic_engine", "openai": "det_openai_engine", "hf": "deterministic_hf_engine"}[request.param]
    return request.getfixturevalue(name)


def chat(engine, text: str, thinking: bool = False) -> tuple[int, ...]:
    return tuple(engine.tokenizer.chat_prompt_ids(text, open_thinking=thinking))


def test_tokenizer_matches_the_in_process_engine(engine, demo_engine):
    tok, ref = engine.tokenizer, demo_engine.tokenizer
    assert tok.fingerprint() == ref.fingerprint()
    assert tok.eos_ids == ref.eos_ids and tok.close_ids == ref.close_ids
    assert chat(engine, "What is 2 + 3?", True) == chat(demo_engine, "What is 2 + 3?", True)
    assert engine.max_model_len == 2048


def test_length_finish_returns_exactly_max_tokens(engine):
    [res] = engine.generate([GenRequest(chat(engine, "Write a long story about a dragon."), 9, GREEDY, 0)])
    assert res.finish == "length"
    assert len(res.token_ids) == 9
    assert res.text == engine.tokenizer.decode(res.token_ids)


def test_eos_finish_excludes_the_eos_token(engine):
    [res] = engine.generate([GenRequest(chat(engine, "Say hello."), 64, GREEDY, 0)])
    assert res.finish == "eos", res
    assert 0 < len(res.token_ids) < 64
    assert not set(res.token_ids) & engine.tokenizer.eos_ids


def _reference(engine, n: int = 16) -> tuple[tuple[int, ...], tuple[int, ...]]:
    prompt = chat(engine, "Write a long story about a dragon.")
    [ref] = engine.generate([GenRequest(prompt, n, GREEDY, 0)])
    assert ref.finish == "length"
    return prompt, ref.token_ids


def test_stop_id_is_kept_and_ends_generation(det_engine):
    engine = det_engine
    prompt, ref = _reference(engine)
    k = next(i for i in range(2, len(ref)) if ref[i] not in ref[:i])  # first occurrence of its id
    [res] = engine.generate([GenRequest(prompt, 16, GREEDY, 0, stop_ids=(ref[k],))])
    assert res.finish == "stop"
    assert res.token_ids == ref[: k + 1]


def test_stop_string_keeps_every_token_up_to_it(det_engine):
    engine = det_engine
    prompt, ref = _reference(engine)
    tok = engine.tokenizer
    full = tok.decode(ref)
    # A stop string that first appears in the output only when token k is added.
    k = next(i for i in range(3, len(ref)) if tok.decode(ref[i:i + 1]).strip() and tok.decode(ref[i:i + 1]) not in tok.decode(ref[:i]))
    stop = tok.decode(ref[k:k + 1])
    assert stop in full
    [res] = engine.generate([GenRequest(prompt, 16, GREEDY, 0, stop_strings=(stop,))])
    assert res.finish == "stop"
    assert res.token_ids == ref[: k + 1]
    assert res.text.endswith(stop)


def test_continuing_from_a_cut_reproduces_the_rest(det_engine):
    """A thinking phase cut at t tokens goes on from exactly those tokens: no re-tokenisation drift."""
    engine = det_engine
    prompt, ref = _reference(engine, 20)
    [res] = engine.generate([GenRequest(prompt + ref[:7], 13, GREEDY, 0)])
    assert res.token_ids == ref[7:20]


def test_batch_keeps_request_order(engine):
    texts = ["Explain how a car engine works.", "Describe the ocean in detail.", "Write a long story about a dragon.",
             "Say hello."]
    reqs = [GenRequest(chat(engine, t), n, GREEDY, 0) for t, n in zip(texts, (12, 5, 17, 64))]
    batch = engine.generate(reqs)
    # Each result is known by its own budget: the first three ask for far more than their budgets allow.
    assert [(b.finish, len(b.token_ids)) for b in batch[:3]] == [("length", 12), ("length", 5), ("length", 17)]
    assert batch[3].finish == "eos" and len(batch[3].token_ids) < 64
    assert all(b.text == engine.tokenizer.decode(b.token_ids) for b in batch)
    assert engine.generate([]) == []


def test_a_batch_matches_single_calls(det_engine):
    engine = det_engine
    texts = ["What is 7 + 5?", "Name a color.", "Write a long story about a dragon.", "Say hello."]
    reqs = [GenRequest(chat(engine, t), n, GREEDY, 0) for t, n in zip(texts, (12, 5, 17, 64))]
    assert engine.generate(reqs) == [engine.generate([r])[0] for r in reqs]


def test_seed_fixes_a_sampled_result(engine):
    prompt = chat(engine, "Write a long story about a dragon.")
    # The greedy call first puts the prompt in the prefix cache, so both seeded calls reuse the same cached
    # blocks and compute the same thing; a cold and a warm prefill may differ in a low bit (see the docstring).
    greedy = engine.generate([GenRequest(prompt, 24, GREEDY, 0)])[0]
    a = engine.generate([GenRequest(prompt, 24, HOT, 1234)])
    b = engine.generate([GenRequest(prompt, 24, HOT, 1234)])
    assert a == b
    other = engine.generate([GenRequest(prompt, 24, HOT, 99)])[0]
    assert {a[0].token_ids, other.token_ids, greedy.token_ids} != {greedy.token_ids}, "sampling must vary"


def test_seed_fixes_a_sampled_result_in_any_batch(det_engine):
    engine = det_engine
    prompt = chat(engine, "Write a long story about a dragon.")
    a = engine.generate([GenRequest(prompt, 24, HOT, 1234), GenRequest(prompt, 24, HOT, 99)])
    b = engine.generate([GenRequest(prompt, 24, HOT, 1234)])
    assert a[0] == b[0]


def jobs_for(engine) -> list[Job]:
    problems, _ = load_problems("arith", None, limit=3, options={"difficulty": 1, "count": 3, "seed": 0})
    return [Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt)), 0, (4, 12)) for p in problems]


def test_budget_controller_runs_unchanged(engine):
    """Elastic budgets on the engine: every budget point within its budgets, forced exactly when cut."""
    out = run_elastic(engine, jobs_for(engine), BudgetContext(8, GREEDY, 0, share_thinking=True))
    assert len(out.generations) == 3 * 2
    for g in out.generations:
        assert g.thinking_tokens <= g.thinking_budget and g.solution_tokens <= 8
        assert g.forced == (g.thinking_finish == "length")
    assert any(g.forced for g in out.generations if g.thinking_budget == 4)


def test_shared_thinking_equals_from_scratch(det_engine):
    """Shared thinking cut at each budget equals running each budget from scratch, token for token."""
    engine = det_engine
    shared = run_elastic(engine, jobs_for(engine), BudgetContext(8, GREEDY, 0, share_thinking=True))
    scratch = run_elastic(engine, jobs_for(engine), BudgetContext(8, GREEDY, 0, share_thinking=False))
    view = lambda out: {g.key: (g.thinking_tokens, g.solution_tokens, g.forced, g.thinking_text, g.solution_text)
                        for g in out.generations}
    assert len(view(shared)) == 3 * 2 and view(shared) == view(scratch)

"""Shared fixtures: the staged benchmark data in ../shared/data, small fixture rows written for these tests, the
real engines on the demo model, and real vLLM servers.

Tests that request `data_dir` (the staged data) are marked `data` here, so `-m "not data"` and `-m data` select
them. Without the staged data they are skipped with the reason in the summary, so a fresh clone passes; CI sets
EVALKIT_REQUIRE_DATA=1 so that a missing data directory fails those tests instead of skipping them silently.

Two configurations of each engine kind:
- normal (`demo_engine`, `vllm_servers`, `hf_engine`): what evalkit runs by default. vLLM batches freely and caches
  prefixes; on CPU (bf16) its kernels are not batch-invariant, so the same greedy request can come out different
  in another batch or over a prefix another batch cached. Tests on it assert only what the engine promises: keys,
  counts, budgets, finish reasons, statistics, a seeded request reproducible on its own.
- deterministic (`deterministic_engine`, `deterministic_vllm_servers`, `deterministic_hf_engine`): one sequence at a
  time and no prefix cache, so a request's output depends on the request alone. Only tests that compare outputs
  across batchings, servers, replicas or shared/unshared runs use it: there equality is exact, not likely.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fakes.py

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EVALKIT_TEST_DATA", REPO.parent / "shared" / "data"))
REQUIRE_DATA = os.environ.get("EVALKIT_REQUIRE_DATA", "") not in ("", "0")
MISSING_DATA = (f"staged benchmark data not found at {SHARED_DATA}: "
                "set EVALKIT_TEST_DATA to the folder holding it (../shared/data beside the checkout)")
FIXTURE_DATA = Path(__file__).parent / "fixtures" / "data"  # tests/fixtures/make_data.py writes it


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = not SHARED_DATA.is_dir()
    for item in items:
        if "data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)
        # Skipped at collection, before any other fixture: an engine test must not start vLLM first.
        if missing and not REQUIRE_DATA and item.get_closest_marker("data"):
            item.add_marker(pytest.mark.skip(reason=MISSING_DATA))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Fails in setup (an error per test), again before other fixtures such as the engine are built.
    if REQUIRE_DATA and item.get_closest_marker("data") and not SHARED_DATA.is_dir():
        pytest.fail(f"{MISSING_DATA} (EVALKIT_REQUIRE_DATA=1 makes this an error, not a skip)", pytrace=False)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The staged benchmark data (../shared/data or EVALKIT_TEST_DATA); tests using it are marked `data`."""
    return SHARED_DATA


@pytest.fixture(scope="session")
def fixture_data() -> Path:
    """Small synthetic rows in each staged source's schema (same folder layout), shipped with the tests."""
    return FIXTURE_DATA


@pytest.fixture(scope="session")
def demo_engine():
    """The real in-process vLLM engine on the real demo model (SmolLM2-135M). Built once per session."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from evalkit.config import EngineSpec
    from evalkit.engines.vllm import VLLMEngine

    engine = VLLMEngine(EngineSpec(kind="vllm", model="smollm2-demo", max_model_len=2048))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def deterministic_engine():
    """The in-process vLLM engine in the deterministic configuration, built once per session, next to `demo_engine`.

    Why a second engine rather than one deterministic engine for everything: two in-process LLMs coexist in one
    process (each has its own EngineCore process; measured on the loaded 2-core CI box: +0.75 GB resident, 42 s
    to start), while making the only engine deterministic would leave evalkit's default configuration (batching,
    prefix caching) untested and make every sweep test serial (a 16-request batch of 32 tokens: 2.9 s batched,
    9.0 s one at a time). Only comparison tests ask for this fixture, so a session that selects none of them
    never builds it.
    """
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from evalkit.config import EngineSpec
    from evalkit.engines.vllm import VLLMEngine
    from vllm_servers import CPU_THREADS_ENV, DETERMINISTIC

    # The engine-core process it spawns gets the deterministic servers' threading too: tests compare its outputs
    # with theirs, and a different thread count may split a reduction differently (on a bigger box, "auto" binds
    # many threads where the servers use one).
    with pytest.MonkeyPatch.context() as env:
        for name, value in CPU_THREADS_ENV.items():
            env.setenv(name, value)
        engine = VLLMEngine(EngineSpec(kind="vllm", model="smollm2-demo", max_model_len=2048, extra=dict(DETERMINISTIC)))
    yield engine
    engine.close()


def _server_pool(tmp_path_factory, deterministic: bool):
    from evalkit.engines.models import ensure_demo_model
    from vllm_servers import ServerPool

    name = "vllm-servers-deterministic" if deterministic else "vllm-servers"
    return ServerPool(str(ensure_demo_model()), tmp_path_factory.mktemp(name), deterministic=deterministic)


@pytest.fixture(scope="session")
def vllm_servers(tmp_path_factory):
    """Real vLLM API servers on the demo model (127.0.0.1, free ports), normal configuration:
    `vllm_servers.replicas(n)` starts what is missing, in parallel; all are killed at the end of the session.
    Keep n small: each start costs ~25 s and ~1.5 GB."""
    pool = _server_pool(tmp_path_factory, deterministic=False)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def deterministic_vllm_servers(tmp_path_factory):
    """Like `vllm_servers`, started with `--max-num-seqs 1 --no-enable-prefix-caching`: what they return for a
    greedy or seeded request equals what `deterministic_engine` returns for it."""
    pool = _server_pool(tmp_path_factory, deterministic=True)
    yield pool
    pool.close()


def _hf_engine(batch: int | None):
    import torch

    from evalkit.config import EngineSpec
    from evalkit.engines.hf import HFEngine

    # The CI box has 2 cores shared with vLLM's processes: torch's spinning thread pool then loses most of its
    # time waiting (measured 10x slower prefill with 2 threads than with 1).
    torch.set_num_threads(1)
    return HFEngine(EngineSpec(kind="hf", model="smollm2-demo", max_model_len=2048, concurrency=batch))


@pytest.fixture(scope="session")
def hf_engine():
    """The transformers engine on the demo model (CPU), built once per session."""
    engine = _hf_engine(None)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def deterministic_hf_engine():
    """The transformers engine one request at a time: padding a row into a batch changes its numerics too. Its
    decode loop keeps nothing between calls, so batch size 1 is its whole deterministic configuration."""
    engine = _hf_engine(1)
    yield engine
    engine.close()

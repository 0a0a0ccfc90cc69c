"""Shared fixtures: the staged benchmark data in ../shared/data, small fixture rows written for these tests, and
ONE real vLLM engine per test session.

Tests that request `data_dir` (the staged data) are marked `data` here, so `-m "not data"` and `-m data` select
them. Without the staged data they are skipped with the reason in the summary, so a fresh clone passes; CI sets
EVALKIT_REQUIRE_DATA=1 so that a missing data directory fails those tests instead of skipping them silently.
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
def vllm_servers(tmp_path_factory):
    """Real vLLM API servers on the demo model (127.0.0.1, free ports): `vllm_servers.replicas(n)` starts what is
    missing, in parallel; all are killed at the end of the session. Keep n small: each start costs ~25 s."""
    from evalkit.engines.models import ensure_demo_model
    from vllm_servers import ServerPool

    pool = ServerPool(str(ensure_demo_model()), tmp_path_factory.mktemp("vllm-servers"))
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def hf_engine():
    """The transformers engine on the demo model (CPU), built once per session."""
    import torch

    from evalkit.config import EngineSpec
    from evalkit.engines.hf import HFEngine

    # The CI box has 2 cores shared with vLLM's processes: torch's spinning thread pool then loses most of its
    # time waiting (measured 10x slower prefill with 2 threads than with 1).
    torch.set_num_threads(1)

    engine = HFEngine(EngineSpec(kind="hf", model="smollm2-demo", max_model_len=2048))
    yield engine
    engine.close()

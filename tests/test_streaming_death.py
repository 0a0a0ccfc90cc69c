"""A streaming engine whose loop dies fails every request it holds, so a sweep stops with an error instead of
waiting forever (seen when the kernel killed a vLLM worker for memory mid-sweep). Control logic of the shared
streaming base, so the engine loop here is a stand-in: it takes requests into its "batch" and then breaks."""

from __future__ import annotations

import threading

import pytest

from evalkit.engines.streaming import StreamingEngine
from evalkit.errors import EvalkitError
from evalkit.types import GenRequest, Sampling

REQ = dict(sampling=Sampling(), seed=0)


class BreaksMidBatch(StreamingEngine):
    """Takes `hold` requests into its running batch (like vLLM's pending requests), then its step raises."""

    def __init__(self, hold: int) -> None:
        self._init_stream()
        self.hold = hold
        self.taken = threading.Event()

    def _serve(self) -> None:
        running = []
        while len(running) < self.hold:
            items = self._take(block=True)
            if items is None:
                return
            running += items
        self.taken.set()
        raise RuntimeError("worker killed (exit code None)")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the loop re-raises by design
def test_requests_inside_a_dead_engine_fail_instead_of_hanging():
    engine = BreaksMidBatch(hold=3)
    inside = [engine.submit(GenRequest(prompt_ids=(1, 2), max_tokens=8, **REQ)) for _ in range(3)]
    assert engine.taken.wait(10)
    for fut in inside:
        with pytest.raises(EvalkitError, match="engine stopped: worker killed"):
            fut.result(timeout=10)
    assert engine.in_flight == 0
    later = engine.submit(GenRequest(prompt_ids=(3,), max_tokens=8, **REQ))
    with pytest.raises(EvalkitError, match="engine stopped"):
        later.result(timeout=1)

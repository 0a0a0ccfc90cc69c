"""Route each generation to the grader of its problem's kind; graders start lazily and live for one sweep.

Code is graded only in an isolated sandbox unless the user said otherwise: `code_isolation` probes that before any
engine starts, and the level it found is handed to the code grader so the run records what really happened.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from evalkit.reasoning.strategies import graded_text
from evalkit.types import Generation, Problem, Verdict


def code_isolation(kinds: Iterable[str], allow_unsandboxed: bool = False) -> str | None:
    """The sandbox level code will be graded under (None when no kind is code). Fails closed: raises EvalkitError
    naming the fix when programs cannot be isolated here and `allow_unsandboxed` is False."""
    if "code" not in set(kinds):
        return None
    from evalkit.grading.sandbox import probe_isolation

    return probe_isolation(allow_unsandboxed)


class Grading:
    """`isolation`: the level from `code_isolation` ("auto" probes again when code is first graded, failing closed
    unless `allow_unsandboxed`)."""

    def __init__(self, workers: int = 2, timeout: float = 10.0, isolation: str | None = "auto",
                 allow_unsandboxed: bool = False) -> None:
        self.workers, self.timeout = workers, timeout
        self.isolation, self.allow_unsandboxed = isolation or "auto", allow_unsandboxed
        self._graders: dict[str, Any] = {}

    def _grader(self, kind: str) -> Any:
        if kind not in self._graders:
            if kind == "math":
                from evalkit.grading.math import MathGrader

                self._graders[kind] = MathGrader(workers=self.workers, timeout=self.timeout)
            elif kind == "code":
                from evalkit.grading.code import CodeGrader

                self._graders[kind] = CodeGrader(workers=self.workers, isolation=self.isolation,
                                                 allow_unsandboxed=self.allow_unsandboxed)
            else:
                raise ValueError(f"no grader for problem kind {kind!r}")
        return self._graders[kind]

    def grade(self, items: Sequence[tuple[Problem, Generation]]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        for kind in {p.kind for p, _ in items}:
            idx = [i for i, (p, _) in enumerate(items) if p.kind == kind]
            if kind == "math":
                got = self._grader(kind).grade([(items[i][0].answer or "", graded_text(items[i][1])) for i in idx])
            else:
                got = self._grader(kind).grade([(items[i][0], graded_text(items[i][1])) for i in idx])
            for i, v in zip(idx, got):
                verdicts[i] = v
        return [v for v in verdicts if v is not None]

    def close(self) -> None:
        for g in self._graders.values():
            g.close()
        self._graders.clear()

"""Work units shared by the controllers: one problem x sample with the budget points still missing, and seeds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from evalkit.types import Problem


@dataclass(frozen=True)
class Job:
    problem: Problem
    prompt_ids: tuple[int, ...]
    sample: int
    budgets: tuple[int | None, ...]  # points still missing for this problem x sample (None = unconstrained)

    @property
    def group(self) -> tuple[str, str, int]:
        return (self.problem.benchmark, self.problem.id, self.sample)


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any parts (run seed, problem id, sample, phase ...), the same on every machine."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF

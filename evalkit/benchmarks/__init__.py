"""Benchmark registry: name -> Benchmark, and `load_problems` that applies limits and prompt templates.

Built-in benchmarks are registered at import. Benchmark cards (cards.py) join through `register_cards` (a run's
--benchmark-card files, a resumed run's recorded cards) or, when a name is not known, through discovery
(`card_paths`: $EVALKIT_CARDS folders and ./benchmark-cards/), so a card is found by its name alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from evalkit.benchmarks import aime24, aime25, amc23, arith, codeforces, livecodebench, math500
from evalkit.benchmarks.base import Benchmark, apply_template, data_dir_from, load_rows, to_problems
from evalkit.benchmarks.cards import card_paths, load_card
from evalkit.errors import EvalkitError
from evalkit.types import Problem

REGISTRY: dict[str, Benchmark] = {
    b.name: b for b in (arith.BENCHMARK, aime24.BENCHMARK, aime25.BENCHMARK, amc23.BENCHMARK, math500.BENCHMARK,
                        livecodebench.BENCHMARK, codeforces.BENCHMARK)
}
BUILTIN = frozenset(REGISTRY)

__all__ = ["REGISTRY", "BUILTIN", "Benchmark", "register", "register_cards", "card_paths", "discover_cards",
           "register_spec_cards", "get_benchmark", "card_of", "load_problems", "prompt_template"]


def register(bench: Benchmark) -> None:
    REGISTRY[bench.name] = bench


def register_cards(paths: Iterable[str | Path]) -> list[str]:
    """Add benchmark cards to the registry; returns their names in order. Registering a card again (same file)
    refreshes it; a card whose name is built in, or taken by another card file, is an EvalkitError."""
    names = []
    for path in paths:
        bench = load_card(path)
        have = REGISTRY.get(bench.name)
        if bench.name in BUILTIN:
            raise EvalkitError(f"{bench.card}: name {bench.name!r} is a built-in benchmark: give the card another name")
        if have is not None and have.card != bench.card:
            raise EvalkitError(f"{bench.card}: name {bench.name!r} is already taken by the card {have.card}: "
                               "give one of the two cards another name")
        REGISTRY[bench.name] = bench
        names.append(bench.name)
    return names


def register_spec_cards(spec: Any) -> list[str]:
    """The cards a run recorded (SweepSpec / OffloadSpec `benchmark_cards`, or run.json's spec dict)."""
    cards = spec.get("benchmark_cards") if isinstance(spec, dict) else getattr(spec, "benchmark_cards", ())
    return register_cards(cards or ())


def discover_cards(dirs: Iterable[str | Path] | None = None) -> list[str]:
    """Register the discovered cards (see `card_paths`) not registered yet; `evalkit benchmarks` lists them then.
    A card file already registered under its name is skipped, so an explicit --benchmark-card wins quietly."""
    registered = {b.card for b in REGISTRY.values() if b.card}
    return register_cards(p for p in card_paths(dirs) if str(p) not in registered)


def card_of(name: str) -> str | None:
    """The card file behind a registered benchmark, or None for a built-in one."""
    return get_benchmark(name).card


def get_benchmark(name: str) -> Benchmark:
    if name not in REGISTRY and name not in BUILTIN:
        discover_cards()  # lazily: a name not built in may be a card in $EVALKIT_CARDS or ./benchmark-cards/
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise EvalkitError(f"unknown benchmark {name!r}: choose from {known} (see `evalkit benchmarks`)")
    return REGISTRY[name]


def prompt_template(bench: Benchmark, prompts: dict[str, str]) -> str:
    return prompts.get(bench.name, prompts.get("*", bench.default_prompt))


def load_problems(
    name: str,
    data_dir: str | None,
    limit: int | None = None,
    prompts: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[list[Problem], dict[str, Any]]:
    """Problems of one benchmark, formatted with its prompt template, plus the identity of their source."""
    bench = get_benchmark(name)
    directory: Path | None = None if bench.generate is not None else data_dir_from(data_dir)
    rows, identity = load_rows(bench, directory, options or {})
    problems = to_problems(bench, rows, identity.get("path", identity["source"]))
    if limit is not None:
        problems = problems[:limit]
    template = prompt_template(bench, prompts or {})
    return [apply_template(p, template) for p in problems], {**identity, "count": len(problems), "prompt": template}

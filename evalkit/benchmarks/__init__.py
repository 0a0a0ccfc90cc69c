"""Benchmark registry: name -> Benchmark, and `load_problems` that applies limits and prompt templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalkit.benchmarks import aime24, aime25, amc23, arith, codeforces, livecodebench, math500
from evalkit.benchmarks.base import Benchmark, apply_template, data_dir_from, load_rows, to_problems
from evalkit.errors import EvalkitError
from evalkit.types import Problem

REGISTRY: dict[str, Benchmark] = {
    b.name: b for b in (arith.BENCHMARK, aime24.BENCHMARK, aime25.BENCHMARK, amc23.BENCHMARK, math500.BENCHMARK,
                        livecodebench.BENCHMARK, codeforces.BENCHMARK)
}


def register(bench: Benchmark) -> None:
    REGISTRY[bench.name] = bench


def get_benchmark(name: str) -> Benchmark:
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

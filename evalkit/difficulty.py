"""Difficulty groups of problems, from their metadata: what `summary_by_<field>.csv` and `--by FIELD` split on.

Fields: `level` (MATH500 1-5), `difficulty` (LiveCodeBench easy/medium/hard; the arith generator's levels),
`rating_band` (Codeforces rating in bands of 400: 800-1199, 1200-1599, ...), `year` (AIME: the contest year).
A problem without a value for a field is left out of that field's breakdown.

Metadata is read through `problem_metadata`, one place: from problems the caller already holds, else the run's
problems.jsonl (rows {"id", "benchmark", ..., "metadata": {...}}), else the benchmark loaders named in run.json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from evalkit.errors import EvalkitError
from evalkit.types import Problem

FIELDS = ("level", "difficulty", "rating_band", "year")
PROBLEMS_JSONL = "problems.jsonl"
RATING_BAND = 400
_DIFFICULTY_ORDER = {"easy": 0, "medium": 1, "hard": 2}

Metadata = dict[tuple[str, str], dict[str, Any]]  # (benchmark, problem id) -> metadata


def rating_band(rating: Any) -> str | None:
    """Codeforces rating as a band of 400 starting at 800 (800-1199, 1200-1599, ...); below 800 is "<800"."""
    try:
        r = int(rating)
    except (TypeError, ValueError):
        return None
    if r < 800:
        return "<800"
    lo = 800 + (r - 800) // RATING_BAND * RATING_BAND
    return f"{lo}-{lo + RATING_BAND - 1}"


def _year(benchmark: str, meta: Mapping[str, Any]) -> str | None:
    if meta.get("year") not in (None, ""):
        return str(meta["year"])
    m = re.fullmatch(r"aime(\d\d)", benchmark)  # aime24, aime25: one contest year per benchmark
    return f"20{m.group(1)}" if m else None


def group_value(field: str, benchmark: str, meta: Mapping[str, Any]) -> str | None:
    """The problem's group under `field`, as text, or None when it has none."""
    if field == "rating_band":
        return rating_band(meta.get("rating"))
    if field == "year":
        return _year(benchmark, meta)
    if field not in FIELDS:
        raise EvalkitError(f"unknown breakdown field {field!r}: use one of {', '.join(FIELDS)}")
    v = meta.get(field)
    return None if v in (None, "") else str(v)


def group_sort_key(value: str) -> tuple:
    """Easy before hard: numbers (levels, years, band starts) numerically, LiveCodeBench words in their order."""
    if value.lower() in _DIFFICULTY_ORDER:
        return (0, _DIFFICULTY_ORDER[value.lower()], value)
    m = re.match(r"<?(\d+)", value)
    return (1, int(m.group(1)) - value.startswith("<"), value) if m else (2, 0, value)


def fields_present(meta: Metadata, min_groups: int = 1) -> list[str]:
    """Fields whose values split the problems into at least `min_groups` groups, in FIELDS order."""
    out = []
    for f in FIELDS:
        groups = {group_value(f, b, m) for (b, _), m in meta.items()} - {None}
        if len(groups) >= min_groups:
            out.append(f)
    return out


def metadata_of(problems: Iterable[Problem]) -> Metadata:
    return {(p.benchmark, p.id): dict(p.metadata) for p in problems}


def read_problems_jsonl(path: Path) -> Metadata:
    out: Metadata = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out[(str(row["benchmark"]), str(row["id"]))] = dict(row.get("metadata") or {})
            except (ValueError, KeyError, TypeError) as e:
                raise EvalkitError(f"{path}:{n} is not a problem row ({e}): rewrite it with {{\"id\", \"benchmark\", \"metadata\"}}") from e
    return out


def problem_metadata(run_dir: Path, problems: Iterable[Problem] | None = None, load: bool = True) -> Metadata:
    """Metadata of the run's problems: given problems, else problems.jsonl, else (with `load`) the loaders."""
    if problems is not None:
        return metadata_of(problems)
    path = run_dir / PROBLEMS_JSONL
    if path.exists():
        return read_problems_jsonl(path)
    if not load:
        return {}
    from evalkit.benchmarks import load_problems
    from evalkit.store import RunStore

    spec = RunStore(run_dir).read_run().get("spec") or {}
    if not spec.get("benchmarks"):
        raise EvalkitError(f"{run_dir}/run.json names no benchmarks to load problems from: add {PROBLEMS_JSONL} to the run")
    # Only what picks the problems (sweep and offload specs share these fields); prompts do not change metadata.
    out: Metadata = {}
    for name in spec["benchmarks"]:
        probs, _ = load_problems(name, spec.get("data_dir"), spec.get("limit"), None, spec.get("benchmark_options") or {})
        out.update(metadata_of(probs))
    return out

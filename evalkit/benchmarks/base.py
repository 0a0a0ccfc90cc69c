"""What every benchmark module provides, and how its rows are read from a local directory or the hub.

A benchmark module is pure: `to_problem(row, index)` maps one source record to a Problem whose `prompt` is the
bare statement; the loader applies the prompt template. Local files and hub rows go through the same function,
so both sources give the same problems.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from evalkit.checksum import sha256_file
from evalkit.errors import EvalkitError
from evalkit.types import Problem

MATH_PROMPT = "{problem} Let's think step by step and output the final answer within \\boxed{{}}."


@dataclass(frozen=True)
class HubSource:
    repo: str
    revision: str
    split: str = "test"
    config: str | None = None
    data_files: str | None = None


@dataclass(frozen=True)
class Benchmark:
    name: str
    kind: str  # "math" | "code"
    description: str
    citation: str
    local_files: tuple[str, ...]  # relative to the data directory, first existing one wins
    hub: HubSource | None
    to_problem: Callable[[dict[str, Any], int], Problem]
    default_prompt: str = MATH_PROMPT
    expected_count: int | None = None
    system_prompt: str | None = None
    # Generated benchmarks build their rows themselves and need no data at all.
    generate: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # the benchmark_options keys it reads, with defaults
    # Optional hooks for sources that are more than one file (LiveCodeBench release files) and for selection
    # (release version, date window). They get the benchmark's options merged over its defaults.
    read_local: Callable[[Path, dict[str, Any]], tuple[list[dict[str, Any]], dict[str, Any]]] | None = None
    read_hub: Callable[[dict[str, Any]], tuple[list[dict[str, Any]], dict[str, Any]]] | None = None
    select: Callable[[list[dict[str, Any]], dict[str, Any]], list[dict[str, Any]]] | None = None
    card: str | None = None  # a benchmark card's absolute path (evalkit/benchmarks/cards.py); None: built in


def data_dir_from(explicit: str | None) -> Path | None:
    value = explicit or os.environ.get("EVALKIT_DATA_DIR")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise EvalkitError(f"data directory {value} does not exist: pass --data-dir DIR (or set EVALKIT_DATA_DIR)")
    return path


def read_jsonl(path: Path, fix: str = "check --data-dir") -> list[dict[str, Any]]:
    return read_jsonl_lines(path, fix)[0]


def read_jsonl_lines(path: Path, fix: str = "check --data-dir") -> tuple[list[dict[str, Any]], list[int]]:
    """The rows of a JSONL file and the line each came from (for errors that point at a row); `fix` ends the
    error line when the file cannot be read."""
    rows, lines = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise EvalkitError(f"{path}:{lineno} is not valid JSON ({e.msg}): fix or remove that row") from None
                if not isinstance(row, dict):
                    raise EvalkitError(f"{path}:{lineno} is not a JSON object: fix or remove that row")
                rows.append(row)
                lines.append(lineno)
    except OSError as e:
        raise EvalkitError(f"cannot read {path} ({e.strerror}): {fix}") from None
    return rows, lines


def local_file(bench: Benchmark, data_dir: Path) -> Path | None:
    for rel in bench.local_files:
        if (data_dir / rel).is_file():
            return data_dir / rel
    return None


def load_rows(bench: Benchmark, data_dir: Path | None, options: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows plus the identity of where they came from (file + sha256, or hub repo + revision)."""
    opts = {**bench.options, **{k: v for k, v in options.items() if k in bench.options and v is not None}}
    if bench.generate is not None:
        return bench.generate(opts), {"source": "generated", "options": opts}
    if bench.read_local is not None or bench.read_hub is not None or bench.select is not None:
        return _hooked_rows(bench, data_dir, opts)
    if data_dir is not None:
        path = local_file(bench, data_dir)
        if path is None:
            wanted = " or ".join(bench.local_files)
            raise EvalkitError(f"{bench.name}: no {wanted} under {data_dir}: point --data-dir at a folder holding it")
        return read_jsonl(path), {"source": "local", "path": str(path), "sha256": sha256_file(path)}
    if bench.hub is None:
        raise EvalkitError(f"{bench.name} has no hub source: pass --data-dir DIR holding {bench.local_files[0]}")
    return _hub_rows(bench), {"source": "hub", "repo": bench.hub.repo, "revision": bench.hub.revision}


def _hooked_rows(bench: Benchmark, data_dir: Path | None, opts: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if data_dir is not None and bench.read_local is not None:
        rows, identity = bench.read_local(data_dir, opts)
    elif data_dir is None and bench.read_hub is not None:
        rows, identity = bench.read_hub(opts)
    else:
        rows, identity = load_rows(replace(bench, read_local=None, read_hub=None, select=None), data_dir, {})
    if bench.select is not None:
        rows = bench.select(rows, opts)
    selection = {k: v for k, v in opts.items() if v is not None}
    return rows, {**identity, **({"selection": selection} if selection else {})}


def _hub_rows(bench: Benchmark) -> list[dict[str, Any]]:
    hub = bench.hub
    assert hub is not None
    try:
        import datasets
    except ImportError:
        raise EvalkitError(
            f"{bench.name}: reading from the hub needs `datasets` (pip install 'evalkit[hf]'), or pass --data-dir DIR"
        ) from None
    try:
        if hub.data_files:
            builder = "parquet" if hub.data_files.endswith(".parquet") else "json"
            ds = datasets.load_dataset(
                builder, data_files=f"hf://datasets/{hub.repo}@{hub.revision}/{hub.data_files}", split="train"
            )
        else:
            ds = datasets.load_dataset(hub.repo, hub.config, split=hub.split, revision=hub.revision)
    except Exception as e:  # offline, gated, renamed: all mean "use local files"
        msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise EvalkitError(
            f"{bench.name}: could not load {hub.repo}@{hub.revision} from the hub ({msg}); "
            f"pass --data-dir DIR holding {bench.local_files[0]} to run offline"
        ) from None
    return [dict(r) for r in ds]


def to_problems(bench: Benchmark, rows: Iterable[dict[str, Any]], source: str) -> list[Problem]:
    problems = []
    for i, row in enumerate(rows):
        try:
            problems.append(bench.to_problem(row, i))
        except (KeyError, TypeError, ValueError) as e:
            raise EvalkitError(
                f"{bench.name}: row {i + 1} of {source} lacks what the benchmark needs ({type(e).__name__}: {e}); "
                "fix that row or use the benchmark's original file"
            ) from None
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        raise EvalkitError(f"{bench.name}: {source} has duplicate problem ids; use the benchmark's original file")
    return problems


def apply_template(problem: Problem, template: str) -> Problem:
    try:
        text = template.format(problem=problem.prompt)
    except (KeyError, IndexError, ValueError) as e:
        raise EvalkitError(
            f"prompt template {template!r} is invalid ({e}): use {{problem}} for the statement and {{{{ }}}} for braces"
        ) from None
    return replace(problem, prompt=text, metadata={**problem.metadata, "statement": problem.prompt})


def normalize_integer_answer(value: Any) -> str:
    """AIME answers like "025" or AMC floats like 27.0 are numbers: return their canonical integer text."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if number == int(number):
        return str(int(number))
    return text

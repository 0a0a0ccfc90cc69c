"""problems.jsonl: the problems of a run, written when the run is planned, so the run directory stands alone.

A copied run directory can be re-graded, reported, plotted and viewed without the benchmark data: math problems
carry their gold answer here; code problems carry only a content hash of their tests and where the tests came
from (test sets are large, and some are licensed to stay where they were downloaded), so re-grading code finds
the tests again through the benchmark's data and checks the hash.

One row per problem (the schema `evalkit view` and the Python API read)::

    {"id", "benchmark", "kind", "prompt" (the problem statement), "prompt_sent" (the user message as formatted
     with the prompt template), "system" (the benchmark's system prompt or null),
     math: "gold"; code: "tests_sha256", "tests_count", "tests_source";
     "metadata": {level, difficulty, rating, contest_date, ... as the benchmark gives them}}

Rows are appended for problems not yet in the file, so a resumed or grown run (more benchmarks, a larger
--limit) keeps its rows and adds the new ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

from evalkit.errors import EvalkitError
from evalkit.store import append_jsonl, iter_jsonl, repair_jsonl
from evalkit.types import Problem, TestCase

PROBLEMS = "problems.jsonl"
ProblemKey = tuple[str, str]  # benchmark, problem id


def tests_sha256(tests: Iterable[TestCase]) -> str:
    """Content hash of a problem's tests (inputs, outputs, kinds, in order): equal hashes mean the same tests."""
    text = json.dumps([[t.input, t.output, t.kind] for t in tests], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_text(identity: dict[str, Any]) -> str:
    """Where a benchmark's rows came from, in words: 'local PATH', 'hub REPO@REVISION', 'generated'."""
    source = str(identity.get("source", "?"))
    if source == "local":
        return f"local {identity.get('path', '?')}"
    if source == "hub":
        return f"hub {identity.get('repo', '?')}@{identity.get('revision', '?')}"
    return source


def problem_row(p: Problem, system: str | None, identity: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in p.metadata.items() if k != "statement"}
    row: dict[str, Any] = {
        "id": p.id, "benchmark": p.benchmark, "kind": p.kind,
        "prompt": p.metadata.get("statement", p.prompt), "prompt_sent": p.prompt, "system": system,
    }
    if p.kind == "code":
        row.update(tests_sha256=tests_sha256(p.tests), tests_count=len(p.tests), tests_source=source_text(identity))
    else:
        row["gold"] = p.answer
    row["metadata"] = meta
    return row


def write_problems(run_dir: Path, problems: dict[str, list[Problem]], identities: dict[str, dict[str, Any]],
                   systems: dict[str, str | None]) -> int:
    """Append the rows of problems not yet in run_dir/problems.jsonl; returns how many were added."""
    repair_jsonl(Path(run_dir) / PROBLEMS)  # a kill mid-append leaves a torn line; cut it before appending
    have = read_problems(run_dir)
    rows = [problem_row(p, systems.get(name), identities.get(name, {}))
            for name, probs in problems.items() for p in probs if (p.benchmark, p.id) not in have]
    return append_jsonl(Path(run_dir) / PROBLEMS, rows)


def read_problems(run_dir: Path) -> dict[ProblemKey, dict[str, Any]]:
    """(benchmark, id) -> row of run_dir/problems.jsonl; empty for runs written before the file existed."""
    return {(str(r["benchmark"]), str(r["id"])): r for r in iter_jsonl(Path(run_dir) / PROBLEMS)}


def math_problem(row: dict[str, Any]) -> Problem:
    """A math Problem rebuilt from its row: all grading needs is the gold answer."""
    return Problem(id=str(row["id"]), benchmark=str(row["benchmark"]), kind="math", prompt=str(row.get("prompt_sent") or ""),
                   answer=row.get("gold"), metadata=dict(row.get("metadata") or {}))


def problems_for_grading(run_dir: Path, needed: set[ProblemKey], load_benchmark: Any) -> dict[ProblemKey, Problem]:
    """The problems behind `needed` keys: math from problems.jsonl, code (and runs without the file) from the
    benchmark data through `load_benchmark(name) -> list[Problem]`. Code tests must hash as recorded."""
    rows = read_problems(run_dir)
    out: dict[ProblemKey, Problem] = {}
    from_data: set[str] = set()
    for key in needed:
        row = rows.get(key)
        if row is not None and row.get("kind") == "math":
            out[key] = math_problem(row)
        else:
            from_data.add(key[0])
    for name in sorted(from_data):
        recorded = {k: r for k, r in rows.items() if k[0] == name}
        try:
            loaded = load_benchmark(name)
        except EvalkitError as e:
            if not recorded:
                raise
            sources = sorted({str(r.get("tests_source")) for r in recorded.values()})
            raise EvalkitError(
                f"{name} is code and its tests are not in {run_dir} (problems.jsonl keeps only their sha256): "
                f"pass `evalkit grade --data-dir DIR` with the {name} files the run used ({'; '.join(sources)}); here: {e}"
            ) from None
        for p in loaded:
            key = (p.benchmark, p.id)
            row = recorded.get(key)
            if row is not None and row.get("tests_sha256") and row["tests_sha256"] != tests_sha256(p.tests):
                raise EvalkitError(
                    f"{name} problem {p.id}: the tests found now differ from those the run used (sha256 mismatch): "
                    f"pass --data-dir with the files named in {PROBLEMS} ({row.get('tests_source')})"
                )
            if key in needed:
                out[key] = p
    return out

"""Codeforces problems with official tests, time and memory limits, graded as Python scripts in the sandbox.

Two row schemas map to the same Problem:
- CodeContests style (DeepMind CodeContests test split, 165 Codeforces problems from contests 1575..1623, as
  shipped by rllm / Elastic Reasoning: `problem`, `tests{inputs,outputs}`, plus `name`, `time_limit_seconds`,
  `memory_limit_bytes`). Local file: codeforces/codecontests_test_codeforces.jsonl. CodeContests has no checkers,
  so problems with several valid answers are judged by LiveCodeBench's line comparison.
- open-r1/codeforces (hub, config `verifiable`): `description`, `input_format`, `output_format`, `examples`,
  `official_tests`, optional `generated_tests`, `generated_checker` (a Python checker, run in the sandbox),
  `input_mode` (stdio | file), `time_limit` (s), `memory_limit` (MB), `contest_start` (unix time). Interactive
  problems are skipped. Rows with no official tests are skipped as ungradable.

Each problem's own time limit is the CPU-time limit per test and its memory limit bounds the address space (plus a
fixed interpreter allowance). `--since/--until` select by contest start date where rows carry one.

A third schema is the CodeElo problem set as Elastic Reasoning evaluates it (rllm `codeforces.json`: 408 problems
from Codeforces contests 1971..2036, 2024; local file codeforces/codeelo_examples_only.jsonl, chosen with
`--codeforces-file codeelo_examples_only.jsonl`): `problem` (statement with "Time Limit: N ms") and `tests` as a list
of {input, output} from the statement examples only. Its rows carry no problem ids; rllm keeps them in a separate
list aligned with the rows (scripts/deepcoder/benchmark/codeforces/metadata_cf.json, "1971A", ...), which
`--codeforces-ids FILE` reads so problems get ids "1971_A" and can be rated. Without it they are "codeelo_0001"...
Ratings over contests (CodeElo) come from `evalkit.grading.codeforces_rating` with standings from
`evalkit codeforces-standings`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

from evalkit.benchmarks.base import Benchmark, HubSource, _hub_rows, local_file, read_jsonl
from evalkit.checksum import sha256_file
from evalkit.benchmarks.livecodebench import FORMAT_STDIN, SYSTEM_PROMPT, _date
from evalkit.errors import EvalkitError
from evalkit.types import Problem, TestCase

# The hub source, pinned so a run's problems and tests cannot change under it between runs. No commit sha of
# open-r1/codeforces could be looked up when this was written (no hub access), so the pin names the branch: set
# EVALKIT_CODEFORCES_REVISION to a commit sha (HfApi().dataset_info("open-r1/codeforces").sha) to pin it for real,
# and replace DEFAULT_REVISION with that sha once it is known. run.json records the revision a run used.
HUB_REPO = "open-r1/codeforces"
DEFAULT_REVISION = "main"
REVISION = os.environ.get("EVALKIT_CODEFORCES_REVISION", DEFAULT_REVISION)

FILE_IO = "Read the input from the file input.txt and write the answer to the file output.txt. Enclose your code within delimiters as follows."


def _prompt(statement: str, file_mode: bool) -> str:
    fmt = FILE_IO if file_mode else FORMAT_STDIN
    return (f"### Question:\n{statement.strip()}\n\n### Format: {fmt}\n```python\n# YOUR CODE HERE\n```\n\n"
            "### Answer: (use the provided format with backticks)\n\n")


def _limits_from_text(text: str) -> tuple[float | None, int | None]:
    tl = re.search(r"Time Limit:\s*([\d.]+)\s*(second|ms)", text, re.I)
    ml = re.search(r"Memory Limit:\s*(\d+)\s*(Bytes|megabytes|MB)", text, re.I)
    mem = None
    if ml:
        mem = int(ml.group(1)) * (1 if ml.group(2).lower() == "bytes" else 1 << 20)
    seconds = float(tl.group(1)) / (1000 if tl.group(2).lower() == "ms" else 1) if tl else None
    return seconds, mem


def _codeelo(row: dict[str, Any], index: int) -> Problem:
    tl, mem = _limits_from_text(str(row["problem"]))
    cf_id = row.get("cf_id")
    m = re.fullmatch(r"(\d+)([A-Z]\d*)", str(cf_id or ""))
    pid = f"{m.group(1)}_{m.group(2)}" if m else f"codeelo_{int(row.get('row', index)) + 1:04d}"
    return Problem(
        id=pid, benchmark="codeforces", kind="code", prompt=_prompt(str(row["problem"]), False),
        tests=tuple(TestCase(str(t["input"]), str(t["output"])) for t in row["tests"]),
        metadata={"title": cf_id or pid, "contest_id": m.group(1) if m else "", "index": m.group(2) if m else None,
                  "time_limit": tl or 2.0, "memory_limit": mem or 256 << 20, "runner": "script", "input_mode": "stdio",
                  "schema": "codeelo"},
    )


def _codecontests(row: dict[str, Any]) -> Problem:
    tests = row["tests"]
    pairs = list(zip(tests["inputs"], tests["outputs"], strict=True))
    tl_text, mem_text = _limits_from_text(str(row["problem"]))
    tl = float(row.get("time_limit_seconds") or tl_text or 2.0)
    mem = int(row.get("memory_limit_bytes") or mem_text or 256 << 20)
    name = str(row.get("name") or "")
    pid = name.split(".")[0].strip() if name else f"{row.get('contest_id')}_{row.get('index')}"
    return Problem(
        id=pid, benchmark="codeforces", kind="code", prompt=_prompt(str(row["problem"]), False),
        tests=tuple(TestCase(str(i), str(o)) for i, o in pairs),
        metadata={"title": row.get("title") or name, "contest_id": str(row.get("contest_id") or pid.split("_")[0]),
                  "index": row.get("index"), "time_limit": tl, "memory_limit": mem, "runner": "script",
                  "input_mode": "stdio", "schema": "codecontests"},
    )


def _open_r1(row: dict[str, Any]) -> Problem:
    if row.get("interaction_format"):
        raise ValueError("interactive problem")
    parts = [str(row.get("description") or "")]
    for title, key in (("Input", "input_format"), ("Output", "output_format"), ("Note", "note")):
        if row.get(key):
            parts.append(f"{title}\n{row[key]}")
    for k, ex in enumerate(row.get("examples") or [], 1):
        parts.append(f"Example {k}\nInput:\n{ex['input']}\nOutput:\n{ex['output']}")
    tl, ml = float(row.get("time_limit") or 2.0), float(row.get("memory_limit") or 256)
    parts.append(f"Time limit: {tl:g} seconds. Memory limit: {ml:g} megabytes.")
    file_mode = row.get("input_mode") == "file"
    tests = [*(row.get("official_tests") or []), *(row.get("generated_tests") or [])]
    start = row.get("contest_start")
    return Problem(
        id=str(row["id"]), benchmark="codeforces", kind="code", prompt=_prompt("\n\n".join(parts), file_mode),
        tests=tuple(TestCase(str(t["input"]), str(t["output"])) for t in tests),
        metadata={"title": row.get("title"), "contest_id": str(row.get("contest_id")), "index": row.get("index"),
                  "rating": row.get("rating"), "time_limit": tl, "memory_limit": int(ml * (1 << 20)),
                  "runner": "script", "input_mode": "file" if file_mode else "stdio",
                  "checker": row.get("generated_checker") or None, "schema": "open-r1",
                  "contest_date": dt.datetime.fromtimestamp(int(start), dt.timezone.utc).date().isoformat() if start else ""},
    )


def to_problem(row: dict[str, Any], index: int) -> Problem:
    if "official_tests" in row or "description" in row:
        return _open_r1(row)
    if "problem" in row and isinstance(row.get("tests"), dict):
        return _codecontests(row)
    if "problem" in row and isinstance(row.get("tests"), list):
        return _codeelo(row, index)
    raise KeyError("neither a CodeContests row (problem, tests) nor an open-r1/codeforces row (description, official_tests)")


def read_local(data_dir: Path, options: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The default file, or --codeforces-file (a name under <data-dir>/codeforces/ or a path)."""
    name = options.get("cf_file")
    if name:
        path = Path(name).expanduser()
        if not path.is_file():
            path = data_dir / "codeforces" / name
        if not path.is_file():
            raise EvalkitError(f"codeforces: no file {name} (looked under {data_dir / 'codeforces'}): pass "
                               "--codeforces-file codecontests_test_codeforces.jsonl or codeelo_examples_only.jsonl, or a path")
    else:
        path = local_file(BENCHMARK, data_dir)
        if path is None:
            raise EvalkitError(f"codeforces: no {' or '.join(BENCHMARK.local_files)} under {data_dir}: "
                               "point --data-dir at a folder holding it")
    rows = read_jsonl(path)
    return _with_ids(rows, options), {"source": "local", "path": str(path), "sha256": sha256_file(path)}


def read_hub(options: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if options.get("cf_file") and Path(options["cf_file"]).expanduser().is_file():
        path = Path(options["cf_file"]).expanduser()
        return _with_ids(read_jsonl(path), options), {"source": "local", "path": str(path), "sha256": sha256_file(path)}
    hub = BENCHMARK.hub
    assert hub is not None
    return _hub_rows(BENCHMARK), {"source": "hub", "repo": hub.repo, "revision": hub.revision}


def _with_ids(rows: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Number the rows (ids stay stable under --limit) and attach --codeforces-ids, a JSON list aligned with them."""
    rows = [{**r, "row": k} for k, r in enumerate(rows)]
    if not options.get("cf_ids"):
        return rows
    path = Path(options["cf_ids"]).expanduser()
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(ids, list)
    except (OSError, ValueError, AssertionError):
        raise EvalkitError(f"--codeforces-ids {path}: needs a JSON list of problem ids such as [\"1971A\", ...]") from None
    if len(ids) != len(rows):
        raise EvalkitError(f"--codeforces-ids {path} has {len(ids)} ids for {len(rows)} rows: use the id list made for that file")
    bad = next((i for i in ids if not re.fullmatch(r"\d+[A-Z]\d*", str(i))), None)
    if bad is not None:
        raise EvalkitError(f"--codeforces-ids {path}: {bad!r} is not a Codeforces problem id like 1971A or 1972D1")
    return [{**r, "cf_id": str(i)} for r, i in zip(rows, ids)]


def select(rows: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Drop interactive and test-less rows; apply --since/--until to rows with a contest start time."""
    since = _date(options["since"], "--since") if options.get("since") else None
    until = _date(options["until"], "--until") if options.get("until") else None
    out = []
    for r in rows:
        if r.get("interaction_format") or ("official_tests" in r and not r.get("official_tests")):
            continue
        if since or until:
            start = r.get("contest_start")
            if not start:
                raise EvalkitError("codeforces: --since/--until need rows with contest_start (open-r1/codeforces); "
                                   "the CodeContests file has no dates: drop the date flags for it")
            day = dt.datetime.fromtimestamp(int(start), dt.timezone.utc).date().isoformat()
            if (since and day < since) or (until and day > until):
                continue
        out.append(r)
    return out


BENCHMARK = Benchmark(
    name="codeforces",
    kind="code",
    description="Codeforces problems with official tests and their own time/memory limits (Python solutions)",
    citation="Li et al. 2022, CodeContests (AlphaCode) test split; open-r1/codeforces; rating method: Quan et al. 2025, CodeElo",
    local_files=("codeforces/codecontests_test_codeforces.jsonl", "codeforces/codeforces.jsonl"),
    hub=HubSource(HUB_REPO, REVISION, split="test", config="verifiable"),
    to_problem=to_problem,
    default_prompt="{problem}",
    system_prompt=SYSTEM_PROMPT,
    options={"since": None, "until": None, "cf_file": None, "cf_ids": None},
    read_local=read_local,
    read_hub=read_hub,
    select=select,
)

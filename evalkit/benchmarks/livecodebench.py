"""LiveCodeBench code generation (Jain et al. 2024, arXiv 2403.07974), the `code_generation_lite` release files.

Hub: livecodebench/code_generation_lite @ 0fe84c3912ea0c4d4a78037083943e8f0c4dd505. Its loading script breaks on
`datasets>=4`, so evalkit reads the raw JSONL files (test.jsonl, test2.jsonl ... test6.jsonl) itself, from
`--data-dir DIR/livecodebench/` or downloaded with huggingface_hub. Private tests are stored as
base64(zlib(pickle(JSON string))); they are decoded with an unpickler that accepts plain strings only.

Selection (as lcb_runner): `--lcb-version` release_v1 .. release_v6 (test.jsonl up to testN.jsonl), release_latest
(all), or v1 .. v6 (one file); `--since`/`--until` keep problems whose contest_date lies in [since, until].
Without the hub files, a data directory with the staged files is read instead: lcb_release_v6_subset8(_raw).jsonl
(8 problems with private tests) for release_v6/latest and lcb_release_v1_public_tests_only.jsonl for release_v1.

Prompt: LiveCodeBench's own chat prompt (its generic system message, "### Question", "### Format" with the starter
code or the stdin instruction, "### Answer"). Graded by evalkit.grading.code in LiveCodeBench-compatible mode.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from pathlib import Path
from typing import Any

from evalkit.benchmarks.base import Benchmark, HubSource, read_jsonl
from evalkit.errors import EvalkitError
from evalkit.types import Problem, TestCase

REPO = "livecodebench/code_generation_lite"
REVISION = "0fe84c3912ea0c4d4a78037083943e8f0c4dd505"
FILES = ("test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl")
VERSIONS = {f"release_v{n}": FILES[:n] for n in range(1, 7)} | {f"v{n}": (FILES[n - 1],) for n in range(1, 7)}
VERSIONS["release_latest"] = FILES
STAGED = {  # staged subsets (see the data folder's SOURCE.md), tried when the hub files are absent
    "release_v6": ("lcb_release_v6_subset8_raw.jsonl", "lcb_release_v6_subset8.jsonl"),
    "release_latest": ("lcb_release_v6_subset8_raw.jsonl", "lcb_release_v6_subset8.jsonl"),
    "release_v1": ("lcb_release_v1_public_tests_only.jsonl",),
    "v1": ("lcb_release_v1_public_tests_only.jsonl",),
}

SYSTEM_PROMPT = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will generate a "
    "correct Python program that matches the specification and passes all tests. You will NOT return anything except "
    "for the program."
)
FORMAT_WITH_STARTER = "You will use the following starter code to write the solution to the problem and enclose your code within delimiters."
FORMAT_STDIN = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample "
    "inputs). Enclose your code within delimiters as follows."
)


def user_prompt(content: str, starter_code: str) -> str:
    text = f"### Question:\n{content}\n\n"
    if starter_code:
        text += f"### Format: {FORMAT_WITH_STARTER}\n```python\n{starter_code}\n```\n\n"
    else:
        text += f"### Format: {FORMAT_STDIN}\n```python\n# YOUR CODE HERE\n```\n\n"
    return text + "### Answer: (use the provided format with backticks)\n\n"


class _StringsOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # private tests are a pickled str: nothing else loads
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a test blob")


def decode_tests(value: Any) -> list[dict[str, Any]]:
    """Tests as a list of {input, output, testtype}: a list already, a JSON string, or base64/zlib/pickle/JSON."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    text = str(value)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    raw = zlib.decompress(base64.b64decode(text.encode("utf-8")))
    inner = _StringsOnly(io.BytesIO(raw)).load()
    return json.loads(inner) if isinstance(inner, (str, bytes)) else inner


def to_problem(row: dict[str, Any], index: int) -> Problem:
    meta = row.get("metadata") or {}
    if isinstance(meta, str):
        meta = json.loads(meta) if meta.strip() else {}
    public, private = decode_tests(row.get("public_test_cases")), decode_tests(row.get("private_test_cases"))
    tests = tuple(
        TestCase(str(t["input"]), str(t["output"]), "functional" if t.get("testtype") == "functional" else "stdin")
        for t in public + private
    )
    if any(t.kind == "functional" for t in tests) and not meta.get("func_name"):
        raise ValueError("functional tests without metadata.func_name")
    starter = str(row.get("starter_code") or "")
    return Problem(
        id=str(row["question_id"]), benchmark="livecodebench", kind="code",
        prompt=user_prompt(str(row["question_content"]), starter), tests=tests,
        metadata={
            "title": row.get("question_title"), "platform": row.get("platform"), "contest_id": row.get("contest_id"),
            "contest_date": str(row.get("contest_date") or ""), "difficulty": row.get("difficulty"),
            "starter_code": starter, "func_name": meta.get("func_name"), "runner": "lcb",
            "public_tests": len(public), "private_tests": len(private),
        },
    )


def _date(text: str, flag: str) -> str:
    import datetime as dt

    try:
        return dt.date.fromisoformat(str(text)[:10]).isoformat()
    except ValueError:
        raise EvalkitError(f"{flag} {text!r} is not a date: use YYYY-MM-DD, e.g. {flag} 2024-08-01") from None


def select(rows: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Keep rows whose contest_date is within [since, until] (inclusive, by day), as lcb_runner's date window."""
    since = _date(options["since"], "--since") if options.get("since") else None
    until = _date(options["until"], "--until") if options.get("until") else None
    if since and until and since > until:
        raise EvalkitError(f"--since {since} is after --until {until}: swap them")
    out = []
    for r in rows:
        day = str(r.get("contest_date") or "")[:10]
        if (since and day < since) or (until and day > until):
            continue
        out.append(r)
    return out


def _version(options: dict[str, Any]) -> str:
    version = str(options.get("lcb_version") or "release_latest")
    if version not in VERSIONS:
        raise EvalkitError(f"--lcb-version {version!r} is unknown: choose from {', '.join(VERSIONS)}")
    return version


def read_local(data_dir: Path, options: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    version = _version(options)
    for folder in (data_dir / "livecodebench", data_dir):
        if (folder / FILES[0]).is_file():
            paths = [folder / f for f in VERSIONS[version]]
            missing = [str(p) for p in paths if not p.is_file()]
            if missing:
                raise EvalkitError(f"livecodebench {version} needs {', '.join(missing)}: download them from {REPO}")
            break
    else:
        staged = [data_dir / "livecodebench" / f for f in STAGED.get(version, ())]
        paths = [next((p for p in staged if p.is_file()), None)] if staged else []
        if not paths or paths[0] is None:
            raise EvalkitError(
                f"livecodebench: no {FILES[0]} (hub layout) or staged file for {version} under {data_dir}/livecodebench: "
                f"download the raw files of {REPO} there"
            )
    rows = [r for p in paths for r in read_jsonl(p)]  # type: ignore[arg-type]
    from evalkit.checksum import sha256_file

    return rows, {"source": "local", "path": ",".join(str(p) for p in paths), "version": version,
                  "sha256": ",".join(sha256_file(p) for p in paths)}  # type: ignore[arg-type]


def read_hub(options: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    version = _version(options)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise EvalkitError("livecodebench from the hub needs huggingface_hub (pip install 'evalkit[hf]'), or pass --data-dir") from None
    rows = []
    for name in VERSIONS[version]:
        try:
            path = hf_hub_download(REPO, name, repo_type="dataset", revision=REVISION)
        except Exception as e:  # offline, renamed: all mean "use local files"
            raise EvalkitError(
                f"livecodebench: could not download {name} of {REPO}@{REVISION[:8]} ({type(e).__name__}); "
                "pass --data-dir DIR holding livecodebench/test.jsonl ... to run offline"
            ) from None
        rows += read_jsonl(Path(path))
    return rows, {"source": "hub", "repo": REPO, "revision": REVISION, "version": version}


BENCHMARK = Benchmark(
    name="livecodebench",
    kind="code",
    description="LiveCodeBench code generation (LeetCode, AtCoder, Codeforces), public + private tests",
    citation="Jain et al. 2024, LiveCodeBench (arXiv 2403.07974); code_generation_lite@0fe84c39",
    local_files=("livecodebench/test.jsonl", "livecodebench/lcb_release_v6_subset8_raw.jsonl"),
    hub=HubSource(REPO, REVISION),
    to_problem=to_problem,
    default_prompt="{problem}",
    system_prompt=SYSTEM_PROMPT,
    options={"lcb_version": "release_latest", "since": None, "until": None},
    read_local=read_local,
    read_hub=read_hub,
    select=select,
)

"""Benchmark cards: a custom benchmark described in a TOML file, so users evaluate private sets without editing evalkit.

A card names its rows (a local JSONL or parquet file, or a hub dataset pinned to a commit), which fields hold the
statement and the gold answer (math) or tests (code, in LiveCodeBench's format), and optionally its prompt::

    name = "mymath"                      # [a-z0-9_]+, not a built-in benchmark's name
    kind = "math"                        # math | code
    description = "five private algebra problems"
    citation = "internal, 2026"          # optional
    [source]
    path = "mymath.jsonl"                # .jsonl or .parquet, relative to the card's folder (or absolute)
    # or: hub = "org/dataset", revision = "<40-hex commit sha>", split = "test", config = "...", data_files = "..."
    [fields]
    id = "id"                            # optional (default: the row index)
    problem = "question"
    answer = "answer"                    # math
    # code: tests = "tests" (list of {input, output, testtype}, JSON text, or LiveCodeBench's encoded blob),
    #       func_name = "...", starter_code = "..." (optional, for functional LeetCode-style tests)
    [prompt]
    template = "{problem} Put the final answer in \\boxed{}."   # optional; must contain {problem}
    system = "You are a careful solver."                        # optional

`load_card` turns a card into an ordinary `Benchmark`, so loading, prompt templates, dataset identities and grading
go through the same paths as the built-in benchmarks. Every mistake in a card is one EvalkitError line that names
the card, the key and the fix; rows are checked when they are read, with the file and line of the first bad one.
The dataset identity carries the card's sha256 beside the data's (sha256 of the file, or hub revision), so runs on
a changed card or changed data are flagged by `evalkit report` like any other dataset change.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from evalkit.benchmarks.base import MATH_PROMPT, Benchmark, HubSource, _hub_rows, read_jsonl_lines
from evalkit.benchmarks.livecodebench import SYSTEM_PROMPT as CODE_SYSTEM_PROMPT
from evalkit.benchmarks.livecodebench import decode_tests, user_prompt
from evalkit.checksum import sha256_file
from evalkit.errors import EvalkitError
from evalkit.types import Problem, TestCase

CARDS_ENV = "EVALKIT_CARDS"
CARDS_DIR = "benchmark-cards"  # looked for in the current directory
NAME = re.compile(r"[a-z0-9_]+")
SHA = re.compile(r"[0-9a-f]{40}")

TOP_KEYS = ("name", "kind", "description", "citation", "source", "fields", "prompt")
SOURCE_KEYS = ("path", "hub", "revision", "split", "config", "data_files")
HUB_ONLY = ("revision", "split", "config", "data_files")
FIELD_KEYS = {"math": ("id", "problem", "answer"), "code": ("id", "problem", "tests", "func_name", "starter_code")}
PROMPT_KEYS = ("template", "system")
TABLES = {"source": SOURCE_KEYS, "fields": FIELD_KEYS["math"] + FIELD_KEYS["code"], "prompt": PROMPT_KEYS}
ROW_KEYS = ("problem", "answer", "tests")  # fields every row must have (id too, when the card names one)


@dataclass(frozen=True)
class Card:
    """A parsed, validated card: `fields` maps evalkit's names (problem, answer, ...) to the row's column names."""

    path: Path
    sha256: str
    name: str
    kind: str
    description: str
    citation: str
    data: Path | None
    hub: HubSource | None
    fields: dict[str, str]
    template: str | None
    system: str | None


def _toml(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise EvalkitError(f"cannot read benchmark card {path} ({e.strerror}): check the path given to --benchmark-card") from None
    try:
        return tomllib.loads(raw.decode("utf-8")), raw
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise EvalkitError(f"benchmark card {path} is not valid TOML ({str(e).splitlines()[0]}): fix that line") from None


def _unknown(path: Path, table: str, keys: Iterable[str], valid: tuple[str, ...]) -> None:
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            home = [t for t, keys in TABLES.items() if key in keys and f"[{t}]" != table] if table == "the card" else []
            hint = (f"did you mean {close[0]!r}?" if close else
                    f"move it under a [{home[0]}] line" if home else "remove it")
            raise EvalkitError(f"{path}: unknown key {key!r} in {table}: {hint} (valid keys: {', '.join(valid)})")


def _text(path: Path, table: str, doc: dict[str, Any], key: str, required: bool, example: str) -> str | None:
    where = "at the top" if table == "the card" else f"in {table}"
    if key not in doc:
        if required:
            raise EvalkitError(f"{path}: missing key {key!r} {where}: add {key} = {example}")
        return None
    value = doc[key]
    if not isinstance(value, str) or not value.strip():
        raise EvalkitError(f"{path}: {key} {where} must be a non-empty string (got {value!r}): set {key} = {example}")
    return value


def _table(path: Path, doc: dict[str, Any], key: str, required: bool) -> dict[str, Any]:
    if key not in doc:
        if required:
            example = 'path = "rows.jsonl"' if key == "source" else 'problem = "question"'
            raise EvalkitError(f"{path}: missing table [{key}]: add it, e.g. [{key}] {example}")
        return {}
    if not isinstance(doc[key], dict):
        raise EvalkitError(f"{path}: {key} must be a table ([{key}] on its own line, keys below it)")
    return doc[key]


def _source(path: Path, src: dict[str, Any]) -> tuple[Path | None, HubSource | None]:
    _unknown(path, "[source]", src, SOURCE_KEYS)
    if ("path" in src) == ("hub" in src):
        raise EvalkitError(f"{path}: [source] needs exactly one of path (a local file) or hub (a dataset repo): "
                           'set path = "rows.jsonl" or hub = "org/dataset" with revision = "<commit sha>"')
    if "path" in src:
        extra = [k for k in HUB_ONLY if k in src]
        if extra:
            raise EvalkitError(f"{path}: [source] {extra[0]} only applies to a hub source: remove it (path is a local file)")
        rel = _text(path, "[source]", src, "path", True, '"rows.jsonl"')
        data = Path(str(rel)).expanduser()
        data = (data if data.is_absolute() else path.parent / data).resolve()
        if data.suffix not in (".jsonl", ".parquet"):
            raise EvalkitError(f"{path}: [source] path {rel!r} is neither .jsonl nor .parquet: convert the rows to one of them")
        if not data.is_file():
            raise EvalkitError(f"{path}: [source] path {rel!r} does not exist ({data}): fix the path "
                               "(relative paths start at the card's folder)")
        return data, None
    repo = str(_text(path, "[source]", src, "hub", True, '"org/dataset"'))
    revision = _text(path, "[source]", src, "revision", False, '"<commit sha>"')
    if revision is None or not SHA.fullmatch(revision):
        got = "is missing" if revision is None else f"{revision!r} is not a commit sha"
        # A branch or tag can move: the same card would then run on other rows. Runs must be reproducible.
        raise EvalkitError(f"{path}: [source] revision {got}: pin the dataset, revision = \"<40-hex commit sha>\" "
                           f"(HfApi().dataset_info({repo!r}).sha)")
    split = _text(path, "[source]", src, "split", False, '"test"') or "test"
    config = _text(path, "[source]", src, "config", False, '"default"')
    data_files = _text(path, "[source]", src, "data_files", False, '"data/test.jsonl"')
    return None, HubSource(repo, revision, split=split, config=config, data_files=data_files)


def _fields(path: Path, kind: str, doc: dict[str, Any]) -> dict[str, str]:
    valid = FIELD_KEYS[kind]
    for key in doc:
        other = "code" if kind == "math" else "math"
        if key not in valid and key in FIELD_KEYS[other]:
            raise EvalkitError(f"{path}: [fields] {key} is for {other} cards, this card has kind = \"{kind}\": "
                               f"remove it or set kind = \"{other}\"")
    _unknown(path, "[fields]", doc, valid)
    needed = ("problem", "answer") if kind == "math" else ("problem", "tests")
    out = {}
    for key in valid:
        value = _text(path, "[fields]", doc, key, key in needed, f'"<the rows\' {key} field>"')
        if value is not None:
            out[key] = value
    return out


def _template(path: Path, value: str | None) -> str | None:
    """A card's template as a `str.format` template. Only {problem} is a placeholder: a template str.format accepts
    is used as is ({{ }} for braces, like --prompt); otherwise every other brace is literal, so the natural
    "\\boxed{}" works in a card."""
    if value is None:
        return None
    if "{problem}" not in value:
        raise EvalkitError(f"{path}: [prompt] template has no {{problem}}: put {{problem}} where the statement goes")
    try:
        value.format(problem="")
        return value
    except (KeyError, IndexError, ValueError):
        return value.replace("{", "{{").replace("}", "}}").replace("{{problem}}", "{problem}")


def parse_card(path: str | Path) -> Card:
    """Read and validate a card; every problem is one EvalkitError naming the key and the fix."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise EvalkitError(f"benchmark card {path} does not exist: check the path given to --benchmark-card")
    doc, raw = _toml(path)
    _unknown(path, "the card", doc, TOP_KEYS)
    name = str(_text(path, "the card", doc, "name", True, '"mymath"'))
    if not NAME.fullmatch(name):
        raise EvalkitError(f"{path}: name {name!r} may hold only a-z, 0-9 and _: e.g. name = {json.dumps(_slug(name))}")
    kind = str(_text(path, "the card", doc, "kind", True, '"math"'))
    if kind not in FIELD_KEYS:
        raise EvalkitError(f"{path}: kind {kind!r} is not one of math, code: set kind = \"math\" (gold answers) "
                           "or kind = \"code\" (tests)")
    description = _text(path, "the card", doc, "description", False, '"what the problems are"') or f"benchmark card {path.name}"
    citation = _text(path, "the card", doc, "citation", False, '"where the problems come from"') or ""
    data, hub = _source(path, _table(path, doc, "source", True))
    fields = _fields(path, kind, _table(path, doc, "fields", True))
    prompt = _table(path, doc, "prompt", False)
    _unknown(path, "[prompt]", prompt, PROMPT_KEYS)
    template = _template(path, _text(path, "[prompt]", prompt, "template", False, '"{problem} ..."'))
    system = _text(path, "[prompt]", prompt, "system", False, '"You are a careful solver."')
    return Card(path, hashlib.sha256(raw).hexdigest(), name, kind, description, citation, data, hub, fields,
                template, system)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "mybench"


# rows ---------------------------------------------------------------------------------------------------------

def _jsonl_rows(data: Path) -> tuple[list[dict[str, Any]], list[str]]:
    rows, lines = read_jsonl_lines(data, "fix [source] path in the card")
    return rows, [f"{data}:{n}" for n in lines]


def _parquet_rows(data: Path) -> tuple[list[dict[str, Any]], list[str]]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(data).to_pylist()
    except Exception as e:  # corrupt or not parquet at all
        raise EvalkitError(f"cannot read {data} as parquet ({type(e).__name__}: {e}): fix [source] path in the card") from None
    return rows, [f"{data} row {i + 1}" for i in range(len(rows))]


def check_rows(card: Card, rows: list[dict[str, Any]], where: list[str]) -> None:
    """Every row has the fields the card names; the first that lacks one is named with its file and line."""
    needed = [k for k in ("id",) + ROW_KEYS if k in card.fields]
    for row, place in zip(rows, where):
        for key in needed:
            column = card.fields[key]
            if column not in row:
                columns = ", ".join(sorted(map(str, row))) or "(none)"
                raise EvalkitError(f"{place} has no field {column!r}: set [fields] {key} to one of: {columns}")
            if row[column] is None or (isinstance(row[column], str) and not row[column].strip()):
                raise EvalkitError(f"{place} has an empty {column!r} ([fields] {key}): fill it in or remove that row")


def read_card_rows(card: Card) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The card's rows, checked, and the identity of the card and its data."""
    if card.data is not None:
        if not card.data.is_file():
            raise EvalkitError(f"{card.path}: [source] path {card.data} does not exist: fix the path in the card")
        rows, where = (_parquet_rows if card.data.suffix == ".parquet" else _jsonl_rows)(card.data)
        identity = {"source": "local", "path": str(card.data), "sha256": sha256_file(card.data)}
    else:
        assert card.hub is not None
        bench = Benchmark(card.name, card.kind, card.description, card.citation, (), card.hub, _unused)
        rows = _hub_rows(bench)
        where = [f"hub {card.hub.repo}@{card.hub.revision[:8]} row {i + 1}" for i in range(len(rows))]
        identity = {"source": "hub", "repo": card.hub.repo, "revision": card.hub.revision}
    check_rows(card, rows, where)
    return rows, {**identity, "card_sha256": card.sha256}


def _unused(row: dict[str, Any], index: int) -> Problem:  # only the hub reader's Benchmark shell, never called
    raise AssertionError




# problems -----------------------------------------------------------------------------------------------------

def problem_maker(card: Card) -> Callable[[dict[str, Any], int], Problem]:
    f = card.fields

    def ident(row: dict[str, Any], index: int) -> str:
        return str(row[f["id"]]) if "id" in f else str(index)

    if card.kind == "math":
        def math_problem(row: dict[str, Any], index: int) -> Problem:
            return Problem(id=ident(row, index), benchmark=card.name, kind="math", prompt=str(row[f["problem"]]),
                           answer=str(row[f["answer"]]).strip())
        return math_problem

    def code_problem(row: dict[str, Any], index: int) -> Problem:
        tests = tuple(
            TestCase(str(t["input"]), str(t["output"]), "functional" if t.get("testtype") == "functional" else "stdin")
            for t in decode_tests(row[f["tests"]])
        )
        func_name = str(row.get(f["func_name"]) or "") if "func_name" in f else ""
        starter = str(row.get(f["starter_code"]) or "") if "starter_code" in f else ""
        if any(t.kind == "functional" for t in tests) and not func_name:
            raise ValueError(f"functional tests need a function name: set [fields] func_name (row has {sorted(row)})")
        statement = str(row[f["problem"]])
        # Without a card template the statement gets LiveCodeBench's own format section (stdin or starter code).
        prompt = statement if card.template is not None else user_prompt(statement, starter)
        return Problem(id=ident(row, index), benchmark=card.name, kind="code", prompt=prompt, tests=tests,
                       metadata={"runner": "lcb", "func_name": func_name or None, "starter_code": starter})
    return code_problem


def benchmark_from_card(card: Card) -> Benchmark:
    def read_local(_data_dir: Any, _options: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return read_card_rows(card)

    def read_hub(_options: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return read_card_rows(card)

    default = card.template or (MATH_PROMPT if card.kind == "math" else "{problem}")
    system = card.system if card.system is not None else (CODE_SYSTEM_PROMPT if card.kind == "code" else None)
    return Benchmark(
        name=card.name, kind=card.kind, description=card.description, citation=card.citation,
        local_files=(str(card.data),) if card.data is not None else (), hub=card.hub,
        to_problem=problem_maker(card), default_prompt=default, system_prompt=system,
        # The card names its own rows, whatever --data-dir says: with or without it they are read the same way.
        read_local=read_local, read_hub=read_hub, card=str(card.path),
    )


def load_card(path: str | Path) -> Benchmark:
    """A card file as a Benchmark (its `card` field holds the card's absolute path)."""
    return benchmark_from_card(parse_card(path))


def card_paths(dirs: Iterable[str | Path] | None = None) -> list[Path]:
    """Cards found by discovery: *.toml in `dirs`, or (None) in the folders of $EVALKIT_CARDS (os.pathsep-separated)
    plus ./benchmark-cards/ when it exists. Folders that do not exist are skipped."""
    if dirs is None:
        env = os.environ.get(CARDS_ENV, "")
        dirs = [d for d in env.split(os.pathsep) if d] + ([CARDS_DIR] if Path(CARDS_DIR).is_dir() else [])
    out: list[Path] = []
    for d in dirs:
        folder = Path(d).expanduser()
        if folder.is_dir():
            out += sorted(p.resolve() for p in folder.glob("*.toml") if p.is_file())
    return list(dict.fromkeys(out))

"""Benchmark cards: parsing and every validation error (one line naming the fix), field mapping, JSONL and parquet,
prompts, identities, registration and discovery, the run spec remembering its cards, a code card graded in the real
sandbox, and a five-problem math card swept end to end on the real engine."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit import benchmarks
from evalkit.benchmarks import (
    BUILTIN, REGISTRY, card_of, card_paths, get_benchmark, load_problems, register_cards, register_spec_cards,
)
from evalkit.benchmarks.base import MATH_PROMPT
from evalkit.benchmarks.cards import CARDS_DIR, CARDS_ENV, load_card
from evalkit.config import EngineSpec, SweepSpec
from evalkit.errors import EvalkitError
from evalkit.types import Sampling

SUMS = [("s1", "What is 2 + 3?", "5"), ("s2", "What is 4 + 4?", "8"), ("s3", "What is 1 + 6?", "7"),
        ("s4", "What is 3 + 3?", "6"), ("s5", "What is 9 + 0?", "9")]

CARD = """\
name = "mymath"
kind = "math"
description = "five easy sums"
citation = "written for these tests"
[source]
path = "mymath.jsonl"
[fields]
id = "key"
problem = "question"
answer = "gold"
[prompt]
template = "{problem} Put the final answer in \\\\boxed{}."
system = "You are a careful solver."
"""


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch):
    """Cards registered by a test leave with it; no discovery from the environment of whoever runs the tests."""
    monkeypatch.delenv(CARDS_ENV, raising=False)
    yield
    for name in [n for n in REGISTRY if n not in BUILTIN]:
        del REGISTRY[name]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def math_card(folder: Path, text: str = CARD, name: str = "mymath.toml") -> Path:
    if not (folder / "mymath.jsonl").exists():
        write_rows(folder / "mymath.jsonl", [{"key": k, "question": q, "gold": a} for k, q, a in SUMS])
    (folder / name).write_text(text)
    return folder / name


def card_error(path: Path) -> str:
    with pytest.raises(EvalkitError) as e:
        register_cards([path])
    message = str(e.value)
    assert "\n" not in message, message
    return message


# ---- field mapping, prompts, sources ---------------------------------------------------------------------------


def test_math_card_maps_fields_and_applies_its_prompt_and_system(tmp_path):
    card = math_card(tmp_path)
    assert register_cards([card]) == ["mymath"]
    bench = get_benchmark("mymath")
    assert bench.kind == "math" and bench.description == "five easy sums" and bench.citation == "written for these tests"
    assert bench.system_prompt == "You are a careful solver."
    assert card_of("mymath") == str(card.resolve()) and card_of("aime24") is None
    problems, ident = load_problems("mymath", None)
    assert [(p.id, p.answer, p.benchmark, p.kind) for p in problems] == [(k, a, "mymath", "math") for k, _, a in SUMS]
    # `\boxed{}` in a card needs no doubled braces: only {problem} is a placeholder.
    assert problems[0].prompt == "What is 2 + 3? Put the final answer in \\boxed{}."
    assert problems[0].metadata["statement"] == "What is 2 + 3?"
    assert ident["source"] == "local" and ident["path"] == str((tmp_path / "mymath.jsonl").resolve())
    assert len(ident["sha256"]) == 64 and len(ident["card_sha256"]) == 64 and ident["count"] == 5


def test_defaults_row_index_ids_math_prompt_and_no_system(tmp_path):
    card = math_card(tmp_path, CARD.replace('id = "key"\n', "").split("[prompt]")[0])
    register_cards([card])
    problems, ident = load_problems("mymath", None, limit=2)
    assert [p.id for p in problems] == ["0", "1"]
    assert problems[0].prompt == MATH_PROMPT.format(problem="What is 2 + 3?") and ident["prompt"] == MATH_PROMPT
    assert get_benchmark("mymath").system_prompt is None


def test_format_style_template_is_used_as_is_and_prompt_flag_still_wins(tmp_path):
    register_cards([math_card(tmp_path, CARD.replace("\\\\boxed{}", "\\\\boxed{{}}"))])
    assert load_problems("mymath", None)[0][0].prompt == "What is 2 + 3? Put the final answer in \\boxed{}."
    flagged = load_problems("mymath", None, prompts={"mymath": "Q: {problem}"})[0]
    assert flagged[0].prompt == "Q: What is 2 + 3?"


def test_parquet_source_gives_the_same_problems_as_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    register_cards([math_card(tmp_path)])
    from_jsonl, _ = load_problems("mymath", None)
    other = tmp_path / "pq"
    other.mkdir()
    pq.write_table(pa.Table.from_pylist([{"key": k, "question": q, "gold": a} for k, q, a in SUMS]), other / "rows.parquet")
    (other / "card.toml").write_text(CARD.replace('"mymath"', '"mymath_pq"').replace("mymath.jsonl", "rows.parquet"))
    register_cards([other / "card.toml"])
    from_parquet, ident = load_problems("mymath_pq", None)
    assert [(p.id, p.prompt, p.answer) for p in from_parquet] == [(p.id, p.prompt, p.answer) for p in from_jsonl]
    assert ident["path"].endswith("rows.parquet")


def test_absolute_source_path_and_data_dir_does_not_matter(tmp_path, monkeypatch):
    data = write_rows(tmp_path / "elsewhere.jsonl", [{"key": "x", "question": "What is 1 + 1?", "gold": "2"}])
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "c.toml").write_text(CARD.replace('"mymath.jsonl"', json.dumps(str(data))))
    register_cards([folder / "c.toml"])
    assert [p.answer for p in load_problems("mymath", str(tmp_path))[0]] == ["2"]  # --data-dir given: same rows


def test_identity_changes_when_data_or_card_changes(tmp_path):
    card = math_card(tmp_path)
    register_cards([card])
    first = load_problems("mymath", None)[1]
    rows = (tmp_path / "mymath.jsonl").read_text().replace('"5"', '"6"')
    (tmp_path / "mymath.jsonl").write_text(rows)
    second = load_problems("mymath", None)[1]
    assert second["sha256"] != first["sha256"] and second["card_sha256"] == first["card_sha256"]
    card.write_text(CARD.replace("five easy sums", "five sums"))
    register_cards([card])  # the same file again: refreshed, not a clash
    third = load_problems("mymath", None)[1]
    assert third["card_sha256"] != second["card_sha256"] and third["sha256"] == second["sha256"]


def test_code_card_uses_livecodebench_tests_prompt_and_grades_in_the_sandbox(tmp_path):
    from evalkit.benchmarks.livecodebench import SYSTEM_PROMPT
    from evalkit.grading.code import CodeGrader

    tests = [{"input": "2 3\n", "output": "5\n", "testtype": "stdin"}, {"input": "10 -4\n", "output": "6\n", "testtype": "stdin"}]
    write_rows(tmp_path / "add.jsonl", [{"name": "add", "statement": "Read two integers and print their sum.",
                                          "tests": json.dumps(tests)}])
    (tmp_path / "add.toml").write_text('name = "myadd"\nkind = "code"\n[source]\npath = "add.jsonl"\n'
                                       '[fields]\nid = "name"\nproblem = "statement"\ntests = "tests"\n')
    register_cards([tmp_path / "add.toml"])
    assert get_benchmark("myadd").system_prompt == SYSTEM_PROMPT
    [problem], _ = load_problems("myadd", None)
    assert problem.id == "add" and len(problem.tests) == 2 and "### Question:\nRead two integers" in problem.prompt
    grader = CodeGrader(workers=1, allow_unsandboxed=True)  # our own programs: the verdicts are tested here
    try:
        good = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
        bad = "```python\nprint(5)\n```"
        verdicts = grader.grade([(problem, good), (problem, bad)])
    finally:
        grader.close()
    assert [v.status for v in verdicts] == ["accepted", "wrong_answer"]


def test_hub_card_is_pinned_to_its_commit(tmp_path):
    from evalkit.benchmarks.base import HubSource

    sha = "0123456789abcdef0123456789abcdef01234567"
    text = CARD.replace('path = "mymath.jsonl"', f'hub = "org/sums"\nrevision = "{sha}"\ndata_files = "test.parquet"')
    register_cards([math_card(tmp_path, text)])
    bench = get_benchmark("mymath")
    assert bench.hub == HubSource("org/sums", sha, split="test", data_files="test.parquet") and bench.local_files == ()


# ---- validation: one line, names the key and the fix ---------------------------------------------------------


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace('name = "mymath"\n', ""), ["missing key 'name'", 'add name = "mymath"']),
    (lambda t: t.replace("description =", "descripton ="), ["unknown key 'descripton'", "did you mean 'description'?"]),
    (lambda t: t.replace("problem =", "problme ="), ["unknown key 'problme' in [fields]", "did you mean 'problem'?"]),
    (lambda t: t.replace('template =', 'templat ='), ["unknown key 'templat' in [prompt]", "did you mean 'template'?"]),
    (lambda t: t.replace('kind = "math"', 'kind = "maths"'), ["kind 'maths' is not one of math, code", 'kind = "math"']),
    (lambda t: t.replace('name = "mymath"', 'name = "My Math"'), ["may hold only a-z, 0-9 and _", 'name = "my_math"']),
    (lambda t: t.replace('answer = "gold"\n', ""), ["missing key 'answer' in [fields]", "add answer ="]),
    (lambda t: t.replace('answer = "gold"', 'tests = "tests"'), ["[fields] tests is for code cards", "remove it"]),
    (lambda t: t.replace("mymath.jsonl", "nowhere.jsonl"), ["path 'nowhere.jsonl' does not exist", "card's folder"]),
    (lambda t: t.replace("mymath.jsonl", "rows.csv"), ["neither .jsonl nor .parquet", "convert"]),
    (lambda t: t.replace('path = "mymath.jsonl"', 'hub = "org/data"'), ["revision is missing", "40-hex commit sha"]),
    (lambda t: t.replace('path = "mymath.jsonl"', 'hub = "org/data"\nrevision = "main"'),
     ["'main' is not a commit sha", "pin the dataset"]),
    (lambda t: t.replace('path = "mymath.jsonl"', 'path = "mymath.jsonl"\nhub = "org/data"'), ["exactly one of path", "hub"]),
    (lambda t: t.replace('path = "mymath.jsonl"', 'path = "mymath.jsonl"\nsplit = "test"'),
     ["split only applies to a hub source", "remove it"]),
    (lambda t: t.replace("{problem} Put", "Put"), ["template has no {problem}", "put {problem} where"]),
    (lambda t: t.replace("[source]\n", ""), ["unknown key 'path' in the card", "move it under a [source] line"]),
    (lambda t: t.split("[source]")[0], ["missing table [source]", 'path = "rows.jsonl"']),
    (lambda t: t.replace('name = "mymath"', "name = mymath"), ["is not valid TOML", "fix that line"]),
    (lambda t: t.replace('name = "mymath"', 'name = "aime24"'), ["'aime24' is a built-in benchmark", "another name"]),
])
def test_card_mistakes_are_one_line_errors_naming_the_fix(tmp_path, edit, expected):
    message = card_error(math_card(tmp_path, edit(CARD)))
    assert str(tmp_path) in message
    for part in expected:
        assert part in message, message


def test_row_lacking_a_field_names_file_line_and_the_columns(tmp_path):
    register_cards([math_card(tmp_path)])
    with (tmp_path / "mymath.jsonl").open("a") as f:
        f.write("\n" + json.dumps({"key": "s6", "q": "What is 1 + 1?", "gold": "2"}) + "\n")
    with pytest.raises(EvalkitError) as e:
        load_problems("mymath", None)
    assert str(e.value) == (f"{(tmp_path / 'mymath.jsonl').resolve()}:7 has no field 'question': "
                            "set [fields] problem to one of: gold, key, q")


def test_row_with_an_empty_answer_is_named(tmp_path):
    register_cards([math_card(tmp_path)])
    with (tmp_path / "mymath.jsonl").open("a") as f:
        f.write(json.dumps({"key": "s6", "question": "What is 1 + 1?", "gold": None}) + "\n")
    with pytest.raises(EvalkitError, match=r"mymath.jsonl:6 has an empty 'gold' \(\[fields\] answer\): fill it in"):
        load_problems("mymath", None)


def test_missing_card_file(tmp_path):
    assert "does not exist: check the path given to --benchmark-card" in card_error(tmp_path / "nope.toml")


# ---- registration, discovery, the run spec ---------------------------------------------------------------------


def test_registering_is_idempotent_and_a_second_card_with_the_name_clashes(tmp_path):
    card = math_card(tmp_path)
    assert register_cards([card, str(card)]) == ["mymath", "mymath"]
    other = math_card(tmp_path, CARD, name="copy.toml")
    message = card_error(other)
    assert "'mymath' is already taken by the card" in message and str(card.resolve()) in message


def test_discovery_from_env_folders_and_benchmark_cards_folder(tmp_path, monkeypatch):
    env_dir, cwd = tmp_path / "env", tmp_path / "cwd"
    env_dir.mkdir()
    (cwd / CARDS_DIR).mkdir(parents=True)
    math_card(env_dir)
    math_card(cwd / CARDS_DIR, CARD.replace('"mymath"', '"local_sums"'), name="local.toml")
    (cwd / CARDS_DIR / "notes.txt").write_text("not a card")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv(CARDS_ENV, f"{env_dir}{__import__('os').pathsep}{tmp_path / 'missing'}")
    assert card_paths() == [(env_dir / "mymath.toml").resolve(), (cwd / CARDS_DIR / "local.toml").resolve()]
    assert card_paths([env_dir]) == [(env_dir / "mymath.toml").resolve()]
    assert "mymath" not in REGISTRY
    assert get_benchmark("local_sums").card == str((cwd / CARDS_DIR / "local.toml").resolve())  # found lazily by name
    assert "mymath" in REGISTRY  # every discovered card is listed (`evalkit benchmarks`)
    with pytest.raises(EvalkitError, match="unknown benchmark 'nope'"):
        get_benchmark("nope")


def test_spec_records_absolute_card_paths_and_reads_old_run_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    math_card(tmp_path)
    spec = SweepSpec(name="r", engine=EngineSpec(), benchmarks=("mymath",), budgets=(8,), benchmark_cards=("mymath.toml",))
    assert spec.benchmark_cards == (str(tmp_path.resolve() / "mymath.toml"),)
    row = json.loads(json.dumps(spec.to_json()))
    assert SweepSpec.from_json(row) == spec
    del row["benchmark_cards"]  # run.json written before cards existed
    assert SweepSpec.from_json(row).benchmark_cards == ()


def test_offload_spec_records_cards(tmp_path):
    from evalkit.offload_run import OffloadSpec

    spec = OffloadSpec(name="o", engine=EngineSpec(), big=EngineSpec(), benchmarks=("mymath",), policies=("none",),
                       benchmark_cards=(str(tmp_path / "mymath.toml"),))
    row = json.loads(json.dumps(spec.to_json()))
    assert OffloadSpec.from_json(row).benchmark_cards == spec.benchmark_cards
    del row["benchmark_cards"]
    assert OffloadSpec.from_json(row).benchmark_cards == ()


def test_load_all_problems_registers_the_specs_cards_first(tmp_path):
    from evalkit.run.session import load_all_problems

    card = math_card(tmp_path)
    spec = SweepSpec(name="r", engine=EngineSpec(), benchmarks=("mymath",), budgets=(8,), benchmark_cards=(str(card),))
    assert "mymath" not in REGISTRY
    problems, identities = load_all_problems(spec)
    assert len(problems["mymath"]) == 5 and identities["mymath"]["card_sha256"]
    assert register_spec_cards(spec.to_json()) == ["mymath"]  # run.json's spec dict works too (`evalkit grade`)


def test_benchmarks_package_exports_what_the_cli_needs():
    for name in ("register_cards", "card_paths", "card_of", "register_spec_cards", "discover_cards", "BUILTIN"):
        assert hasattr(benchmarks, name), name
    assert load_card.__module__ == "evalkit.benchmarks.cards"


# ---- end to end on the real engine -----------------------------------------------------------------------------


@pytest.mark.engine
def test_math_card_sweeps_and_grades_end_to_end(demo_engine, tmp_path):
    from evalkit.sweep import run_sweep

    card = math_card(tmp_path)
    spec = SweepSpec(
        name="cards", engine=EngineSpec(model="smollm2-demo"), benchmarks=("mymath",), budgets=(8, 16),
        solution_budget=8, sampling=Sampling(temperature=0.0, top_p=1.0), out_root=str(tmp_path / "results"),
        benchmark_cards=(str(card),),
    )
    result = run_sweep(spec, engine=demo_engine)
    run = tmp_path / "results" / "cards"
    assert result.generated == 10 and result.graded == 10
    grades = [json.loads(line) for line in (run / "grades.jsonl").read_text().splitlines()]
    assert len(grades) == 10
    with open(run / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["benchmark"] for r in rows} == {"mymath"} and [r["budget"] for r in rows] == ["8", "16"]
    problems = {r["id"]: r for r in map(json.loads, (run / "problems.jsonl").read_text().splitlines())}
    assert {k: r["gold"] for k, r in problems.items()} == {k: a for k, _, a in SUMS}
    assert problems["s1"]["system"] == "You are a careful solver."
    info = json.loads((run / "run.json").read_text())
    assert info["spec"]["benchmark_cards"] == [str(card.resolve())]
    assert info["datasets"]["mymath"]["card_sha256"] and info["datasets"]["mymath"]["sha256"]
    # A fresh process knows the card only from run.json: resuming finds it there and has nothing left to do.
    del REGISTRY["mymath"]
    assert run_sweep(spec, engine=demo_engine).generated == 0
    # A copied run grades math without the card or its rows: the golds are in problems.jsonl.
    card.unlink()
    (tmp_path / "mymath.jsonl").unlink()
    done = subprocess.run([sys.executable, "-m", "evalkit", "grade", str(run), "--regrade"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len((run / "grades.jsonl").read_text().splitlines()) == 20  # regraded rows appended, new verdicts win

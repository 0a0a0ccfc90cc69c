"""The code benchmarks: LiveCodeBench and Codeforces loaders, selection, prompts, and a sweep that grades programs."""

from __future__ import annotations

import base64
import json
import pickle
import zlib

import pytest

from evalkit.benchmarks import get_benchmark, load_problems
from evalkit.benchmarks.livecodebench import SYSTEM_PROMPT, decode_tests
from evalkit.config import EngineSpec, SweepSpec
from evalkit.errors import EvalkitError
from evalkit.grading.lcb_suite import load_suite
from evalkit.sweep import run_sweep
from evalkit.types import Sampling
from fakes import FakeEngine


def test_private_tests_decode_from_the_raw_release_format(fixture_data, tmp_path):
    raw, ident = load_problems("livecodebench", str(fixture_data))  # the _raw file: base64/zlib/pickle private tests
    assert ident["path"].endswith("lcb_release_v6_subset8_raw.jsonl")
    assert [(p.id, p.metadata["public_tests"], p.metadata["private_tests"]) for p in raw] == [
        ("xyz101_a", 2, 4), ("xyz102_a", 1, 3), ("xyz103_b", 2, 3)]
    first_private = raw[0].tests[2]
    assert (first_private.input, first_private.output, first_private.kind) == ("0", "0\n", "stdin")
    # the decoded copy of the same rows (plain JSON lists) gives the same problems
    (tmp_path / "livecodebench").mkdir()
    decoded_file = "livecodebench/lcb_release_v6_subset8.jsonl"
    (tmp_path / decoded_file).write_text((fixture_data / decoded_file).read_text())
    decoded, _ = load_problems("livecodebench", str(tmp_path))
    assert [(p.id, p.tests, p.prompt) for p in decoded] == [(p.id, p.tests, p.prompt) for p in raw]


def test_staged_private_tests_match_source_md(data_dir):
    raw, _ = load_problems("livecodebench", str(data_dir))
    assert len(raw) == 8 and all(len(p.tests) >= 42 for p in raw)
    private5 = {p.id: p.tests[p.metadata["public_tests"] + 5] for p in raw}  # SOURCE.md's spot checks
    assert (private5["abc398_a"].input, private5["abc398_a"].output) == ("10", "----==----\n")
    assert private5["abc400_a"].output == "16\n" and private5["abc393_a"].input == "fine sick"
    # the decoded copy of the same rows gives the same tests
    decoded = [json.loads(line) for line in (data_dir / "livecodebench/lcb_release_v6_subset8.jsonl").read_text().splitlines()]
    assert [len(decode_tests(r["private_test_cases"])) for r in decoded] == [40] * 8


def test_unpickler_refuses_anything_but_strings():
    evil = base64.b64encode(zlib.compress(pickle.dumps(EvalkitError("x")))).decode()
    with pytest.raises(pickle.UnpicklingError):
        decode_tests(evil)
    ok = base64.b64encode(zlib.compress(pickle.dumps(json.dumps([{"input": "1", "output": "2", "testtype": "stdin"}])))).decode()
    assert decode_tests(ok) == [{"input": "1", "output": "2", "testtype": "stdin"}]


def test_version_and_date_window_selection(fixture_data):
    v1, ident = load_problems("livecodebench", str(fixture_data), options={"lcb_version": "release_v1"})
    assert [p.id for p in v1] == ["9001_A", "xyz301_b", "3001", "3002"] and ident["version"] == "release_v1"
    functional = [p for p in v1 if p.tests and p.tests[0].kind == "functional"]
    assert [p.metadata["func_name"] for p in functional] == ["sumOfSquares", "repeatString"]
    assert all(p.metadata["starter_code"] for p in functional)
    window, ident = load_problems("livecodebench", str(fixture_data),
                                  options={"lcb_version": "release_v1", "since": "2023-09-01", "until": "2023-09-30"})
    assert [p.id for p in window] == ["xyz301_b", "3001"]  # 2023-09-16 and 2023-09-03; the others fall outside
    assert ident["selection"]["since"] == "2023-09-01"
    elastic, _ = load_problems("livecodebench", str(fixture_data), options={"since": "2024-08-01", "until": "2025-02-01"})
    assert [p.id for p in elastic] == ["xyz101_a"]  # release_latest reads the v6 rows: 2025-01-11, -02-15, -04-05
    inclusive, _ = load_problems("livecodebench", str(fixture_data), options={"since": "2025-01-11", "until": "2025-02-15"})
    assert [p.id for p in inclusive] == ["xyz101_a", "xyz102_a"]  # both ends count, as in lcb_runner
    with pytest.raises(EvalkitError, match="--since"):
        load_problems("livecodebench", str(fixture_data), options={"since": "August"})
    with pytest.raises(EvalkitError, match="--lcb-version"):
        load_problems("livecodebench", str(fixture_data), options={"lcb_version": "release_v9"})


def test_staged_livecodebench_counts(data_dir):
    v1, _ = load_problems("livecodebench", str(data_dir), options={"lcb_version": "release_v1"})
    assert len(v1) == 400
    functional = [p for p in v1 if p.tests and p.tests[0].kind == "functional"]
    assert len(functional) == 181 and all(p.metadata["func_name"] and p.metadata["starter_code"] for p in functional)
    elastic, _ = load_problems("livecodebench", str(data_dir), options={"since": "2024-08-01", "until": "2025-02-01"})
    assert 0 < len(elastic) < 8  # the staged v6 rows span 2025-01..2025-04
    assert all("2024-08-01" <= p.metadata["contest_date"][:10] <= "2025-02-01" for p in elastic)


def test_prompt_is_livecodebench_format(fixture_data):
    v1, _ = load_problems("livecodebench", str(fixture_data), options={"lcb_version": "release_v1"})
    stdin = next(p for p in v1 if not p.metadata["starter_code"])
    func = next(p for p in v1 if p.metadata["starter_code"])
    assert stdin.prompt.startswith("### Question:\n") and "### Format: Read the inputs from stdin" in stdin.prompt
    assert "```python\n# YOUR CODE HERE\n```" in stdin.prompt and stdin.prompt.endswith("### Answer: (use the provided format with backticks)\n\n")
    assert f"```python\n{func.metadata['starter_code']}\n```" in func.prompt
    assert get_benchmark("livecodebench").system_prompt == SYSTEM_PROMPT


def test_staged_codeforces_count(data_dir):
    problems, _ = load_problems("codeforces", str(data_dir))
    assert len(problems) == 165
    p = next(p for p in problems if p.id == "1575_D")
    assert len(p.tests) == 74 and p.metadata["time_limit"] == 2.0 and p.metadata["runner"] == "script"


def test_codeforces_rows_and_open_r1_schema(fixture_data):
    problems, _ = load_problems("codeforces", str(fixture_data))
    assert [p.id for p in problems] == ["9101_A", "9101_B", "9102_C"]
    p = problems[2]
    assert [(t.input, t.output) for t in p.tests] == [("3\n1 0 1\n", "2\n"), ("1\n0\n", "0\n"), ("4\n1 1 1 1\n", "4\n")]
    assert (p.metadata["time_limit"], p.metadata["memory_limit"], p.metadata["runner"]) == (3.0, 512000000, "script")
    assert (p.metadata["contest_id"], p.metadata["title"], p.metadata["schema"]) == ("9102", "Count Ones", "codecontests")
    assert "Read the inputs from stdin" in p.prompt and "Time Limit:" in p.metadata["statement"]
    bench = get_benchmark("codeforces")
    row = {"id": "2000A", "contest_id": "2000", "index": "A", "title": "T", "description": "Add.",
           "input_format": "a b", "output_format": "a+b", "examples": [{"input": "1 2", "output": "3"}],
           "official_tests": [{"input": "1 2\n", "output": "3\n"}], "generated_checker": "print(1)",
           "input_mode": "stdio", "time_limit": 1.0, "memory_limit": 256.0, "contest_start": 1723000000}
    q = bench.to_problem(row, 0)
    assert q.metadata["memory_limit"] == 256 << 20 and q.metadata["checker"] == "print(1)"
    assert q.metadata["contest_date"] == "2024-08-07" and "Example 1" in q.prompt
    assert bench.select([row, {**row, "interaction_format": "interactive"}], {"since": "2024-08-01"}) == [row]
    assert bench.select([row], {"until": "2024-08-01"}) == []


def solved_by_suite(data_dir):
    """A 'model' that answers each LiveCodeBench problem with a solution the suite labels as passing."""
    good = {r.problem.id: r.code for r in load_suite(data_dir) if r.expected_pass and r.problem.metadata["private_tests"]}

    def respond(prompt: str) -> str:
        if "</think>" not in prompt:
            return "Let me think about it.</think>"
        for pid, code in good.items():
            if pid in respond.ids and respond.ids[pid] in prompt:
                return f"Here is the program:\n```python\n{code}\n```\n"
        return "I do not know."

    return respond, good


def test_sweep_grades_code_benchmarks_in_the_sandbox(fixture_data, tmp_path):
    respond, good = solved_by_suite(fixture_data)
    assert sorted(good) == ["xyz101_a", "xyz103_b"]  # xyz102_a has only a failing solution: the model says no code
    problems, _ = load_problems("livecodebench", str(fixture_data))
    respond.ids = {p.id: p.metadata["statement"][:200] for p in problems}
    spec = SweepSpec(name="code", engine=EngineSpec(kind="fake", model="fake"), benchmarks=("livecodebench", "codeforces"),
                     budgets=(4, 64), solution_budget=4000, sampling=Sampling(temperature=0.0), limit=3,
                     data_dir=str(fixture_data), out_root=str(tmp_path))
    run_sweep(spec, engine=FakeEngine(respond))
    grades = [json.loads(line) for line in (tmp_path / "code" / "grades.jsonl").read_text().splitlines()]
    assert len(grades) == 2 * 3 * 2
    by = {(g["benchmark"], g["problem_id"], g["budget"]): g for g in grades}
    for p in problems[:3]:
        expected = "accepted" if p.id in good else "no_code"
        assert by[("livecodebench", p.id, "64")]["status"] == expected
        assert by[("livecodebench", p.id, "4")]["status"] in ("accepted", "no_code")
    assert {g["status"] for g in grades if g["benchmark"] == "codeforces"} == {"no_code"}
    assert any(g["correct"] for g in grades)
    for name in ("summary.csv", "plots/livecodebench_accuracy_vs_tokens.png", "plots/codeforces_accuracy_vs_tokens.png"):
        assert (tmp_path / "code" / name).exists(), name


def test_codeelo_file_selected_and_ids_attached(data_dir, tmp_path):
    # the CodeElo set Elastic Reasoning evaluates: rows carry no ids; rllm's metadata_cf.json list names them in order
    problems, ident = load_problems("codeforces", str(data_dir), options={"cf_file": "codeelo_examples_only.jsonl"})
    assert ident["path"].endswith("codeelo_examples_only.jsonl") and len(problems) == 408
    first = problems[0]
    assert first.id == "codeelo_0001" and first.metadata["schema"] == "codeelo"
    assert first.metadata["time_limit"] == 1.0 and first.metadata["memory_limit"] == 256 << 20  # "1000 ms", "256 MB"
    assert first.tests[0].input.startswith("10\n1 9") and "Read the inputs from stdin" in first.prompt
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(["1971A", "1971B"] + [f"2000{chr(65 + k % 8)}{k}" for k in range(406)]))
    named, _ = load_problems("codeforces", str(data_dir), limit=2, options={"cf_file": "codeelo_examples_only.jsonl",
                                                                            "cf_ids": str(ids)})
    assert [(p.id, p.metadata["contest_id"], p.metadata["index"]) for p in named] == [("1971_A", "1971", "A"), ("1971_B", "1971", "B")]
    ids.write_text(json.dumps(["1971A"]))
    with pytest.raises(EvalkitError, match="1 ids for 408 rows"):
        load_problems("codeforces", str(data_dir), options={"cf_file": "codeelo_examples_only.jsonl", "cf_ids": str(ids)})
    with pytest.raises(EvalkitError, match="--codeforces-file"):
        load_problems("codeforces", str(data_dir), options={"cf_file": "nope.jsonl"})

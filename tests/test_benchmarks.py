import json

import pytest

from evalkit.benchmarks import load_problems
from evalkit.benchmarks.base import MATH_PROMPT
from evalkit.errors import EvalkitError


@pytest.mark.parametrize("name,count", [("aime24", 30), ("aime25", 30), ("amc23", 40), ("math500", 500)])
def test_local_counts(data_dir, name, count):
    problems, ident = load_problems(name, str(data_dir))
    assert len(problems) == count
    assert ident["source"] == "local" and len(ident["sha256"]) == 64
    assert all(p.kind == "math" and p.answer for p in problems)
    assert len({p.id for p in problems}) == count


def test_staged_answers_match_source_md(data_dir):
    aime, _ = load_problems("aime24", str(data_dir))
    assert {p.id: p.answer for p in aime}["60"] == "204"  # SOURCE.md's spot check: 2024 I P1
    amc, _ = load_problems("amc23", str(data_dir))
    assert amc[0].answer == "27"


def test_aime25_two_sources_agree(data_dir, tmp_path):
    gkv, _ = load_problems("aime25", str(data_dir))
    qwq_dir = tmp_path / "aime25"
    qwq_dir.mkdir()
    (qwq_dir / "aime25_qwq.jsonl").write_text((data_dir / "aime25" / "aime25_qwq.jsonl").read_text())
    qwq, _ = load_problems("aime25", str(tmp_path))
    assert [p.answer for p in gkv] == [p.answer for p in qwq]
    assert [p.id for p in gkv][:2] == ["2025-I-1", "2025-I-2"] and gkv[15].id == "2025-II-1"
    assert "Please reason step by step" not in qwq[0].metadata["statement"]  # QwQ's real suffix is stripped


# ---- loaders on tests/fixtures/data (synthetic rows in each source's schema) ---------------------------------


def test_each_math_schema_maps_to_problems(fixture_data):
    aime, ident = load_problems("aime24", str(fixture_data))
    assert ident["source"] == "local" and len(ident["sha256"]) == 64
    assert [(p.id, p.answer) for p in aime] == [("7", "24"), ("8", "9"), ("9", "195")]  # zero padding dropped
    assert aime[0].metadata["url"].endswith("/aime24/7")
    amc, _ = load_problems("amc23", str(fixture_data))
    assert [(p.id, p.answer) for p in amc] == [("0", "12"), ("4", "-1"), ("11", "7")]  # floats 12.0, -1.0, 7.0
    math500, _ = load_problems("math500", str(fixture_data))
    assert [p.answer for p in math500] == ["\\frac{3}{4}", "(2, -1)", "12", "45^\\circ"]  # LaTeX kept as is
    assert math500[1].id == "test/algebra/9002.json" and math500[1].metadata == {
        "subject": "Algebra", "level": 2, "statement": math500[1].metadata["statement"]}
    assert all(p.kind == "math" for p in aime + amc + math500)


def test_aime25_ids_and_qwq_prompt(fixture_data, tmp_path):
    gkv, _ = load_problems("aime25", str(fixture_data))  # the gkv file wins when both are present
    assert [p.id for p in gkv][:2] == ["2025-I-1", "2025-I-2"] and gkv[14].id == "2025-I-15"
    assert gkv[15].id == "2025-II-1"
    (tmp_path / "aime25").mkdir()
    (tmp_path / "aime25" / "aime25_qwq.jsonl").write_text((fixture_data / "aime25" / "aime25_qwq.jsonl").read_text())
    qwq, _ = load_problems("aime25", str(tmp_path))
    assert [p.answer for p in qwq] == [p.answer for p in gkv]  # int answers in qwq, strings in gkv
    assert [p.metadata["statement"] for p in qwq] == [p.metadata["statement"] for p in gkv]
    assert "Please reason step by step" not in qwq[0].metadata["statement"]


def test_prompt_template_and_limit(fixture_data):
    problems, ident = load_problems("math500", str(fixture_data), limit=3)
    assert len(problems) == 3 and ident["count"] == 3
    assert problems[0].prompt == MATH_PROMPT.format(problem=problems[0].metadata["statement"])
    assert problems[0].prompt.endswith("output the final answer within \\boxed{}.")
    custom, _ = load_problems("math500", str(fixture_data), limit=1, prompts={"math500": "Q: {problem}\nA:"})
    assert custom[0].prompt.startswith("Q: ") and custom[0].prompt.endswith("\nA:")


def test_arith_is_deterministic_with_difficulty_knob():
    a, _ = load_problems("arith", None, options={"difficulty": 1, "count": 20, "seed": 3})
    b, _ = load_problems("arith", None, options={"difficulty": 1, "count": 20, "seed": 3})
    hard, _ = load_problems("arith", None, options={"difficulty": 5, "count": 20, "seed": 3})
    assert [(p.id, p.prompt, p.answer) for p in a] == [(p.id, p.prompt, p.answer) for p in b]
    assert len(a) == 20 and all(int(p.answer) >= 0 for p in a)
    assert max(abs(int(p.answer)) for p in hard) > max(abs(int(p.answer)) for p in a)


def test_missing_data_dir_names_the_fix(tmp_path):
    with pytest.raises(EvalkitError, match="--data-dir"):
        load_problems("aime24", str(tmp_path / "nope"))
    with pytest.raises(EvalkitError, match="--data-dir"):
        load_problems("aime24", str(tmp_path))  # exists but holds no aime24 file


def test_unreadable_row(tmp_path):
    (tmp_path / "aime24").mkdir()
    good = {"id": 1, "problem": "p", "answer": "3"}
    (tmp_path / "aime24" / "aime24.jsonl").write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(EvalkitError, match=r"aime24.jsonl:2"):
        load_problems("aime24", str(tmp_path))
    (tmp_path / "aime24" / "aime24.jsonl").write_text(json.dumps({"id": 1, "answer": "3"}) + "\n")
    with pytest.raises(EvalkitError, match="row 1"):
        load_problems("aime24", str(tmp_path))


def test_hub_failure_names_data_dir(monkeypatch):
    monkeypatch.delenv("EVALKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(EvalkitError, match="--data-dir"):
        load_problems("aime24", None)

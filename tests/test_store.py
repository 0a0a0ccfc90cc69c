import json

from evalkit.store import GENERATIONS, RunStore, iter_jsonl, repair_jsonl
from evalkit.types import Generation


def gen(pid, budget="16"):
    return Generation("arith", pid, 0, "elastic", budget, 16, 16, 3, 2, False, "stop", "eos", "t", "s", 1)


def test_torn_line_is_dropped_and_repaired(tmp_path):
    store = RunStore(tmp_path)
    store.open_for_append()
    store.append_generations([gen("a"), gen("b")])
    with open(tmp_path / GENERATIONS, "a") as f:
        f.write(json.dumps(gen("c").to_json())[:40])  # a kill in the middle of a write
    assert [g.problem_id for g in store.generations()] == ["a", "b"]
    store.open_for_append()
    store.append_generations([gen("c")])
    assert [g.problem_id for g in store.generations()] == ["a", "b", "c"]
    assert len(list(iter_jsonl(tmp_path / GENERATIONS))) == 3


def test_repair_keeps_complete_files(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n')
    repair_jsonl(p)
    assert p.read_text() == '{"a": 1}\n'


def test_generation_roundtrip():
    g = gen("a")
    assert Generation.from_json(json.loads(json.dumps(g.to_json()))) == g

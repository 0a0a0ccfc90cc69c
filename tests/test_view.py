"""`evalkit view` without a browser: the page's data reproduces every row exactly while storing each thinking pass
once, flips are the problems solved in one run only, run text cannot break out of the page, bad input is one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from evalkit.store import RunStore, append_jsonl
from evalkit.types import Generation, GradeRecord, Verdict
from evalkit.view import write_view
from evalkit.view.data import build_view_data
from tests.view_runs import plant_run, read_rows


def _embedded(page: str, script_id: str):
    m = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', page, re.S)
    assert m, script_id
    return json.loads(m.group(1))


def test_rows_round_trip_and_thinking_stored_once(tmp_path):
    run = plant_run(tmp_path, "r", problems=5, samples=2, strategies=("elastic", "truncate"), budgets=(8, 32, 128))
    view = build_view_data([run])
    d, texts = view.data, view.texts
    rows = d["rows"]
    gens = read_rows(run, "generations.jsonl")
    assert len(rows["run"]) == len(gens) == 5 * 2 * 2 * 3
    by_key = {(g["problem_id"], g["sample"], g["strategy"], g["budget"]): g for g in gens}
    L, P = d["labels"], d["problems"]
    for i in range(len(rows["run"])):
        g = by_key[(P["id"][rows["prob"][i]], rows["sample"][i], L["strategy"][rows["strategy"][i]], L["budget"][rows["budget"][i]])]
        assert texts[rows["think"][i]][: rows["thinkLen"][i]] == g["thinking_text"]
        assert texts[rows["sol"][i]] == g["solution_text"]
        assert rows["forced"][i] == int(g["forced"])
    # Thinking: one text per problem x sample (the pass), not one per strategy x budget.
    assert len({rows["think"][i] for i in range(len(rows["run"]))}) == 5 * 2
    assert len(P["id"]) == 5 and all(t and "lattice points" in t for t in P["text"])
    assert P["gold"][0] == "1"
    # Rows come in budget order within a problem x sample x strategy, numeric (8 < 32 < 128), not by string.
    assert [L["budget"][b] for b in rows["budget"][:3]] == ["8", "32", "128"]


def test_flips_are_problems_solved_in_one_run_only(tmp_path):
    a = plant_run(tmp_path, "a", problems=6, samples=1, budgets=(16,), correct=lambda b, i, s, st, t: i < 4)
    b = plant_run(tmp_path, "b", problems=6, samples=1, budgets=(16,), correct=lambda b, i, s, st, t: i in (2, 3, 4, 5))
    d = build_view_data([a, b]).data
    got = {(d["problems"]["id"][f[1]], f[4], f[6]) for f in d["flips"]}
    assert got == {("math500-0000", 1, 0), ("math500-0001", 1, 0), ("math500-0004", 0, 1), ("math500-0005", 0, 1)}


def test_ungraded_rows_shown_and_left_out_of_flips(tmp_path):
    a = plant_run(tmp_path, "a", problems=2, samples=1, budgets=(16,), correct=lambda *k: True)
    b = plant_run(tmp_path, "b", problems=2, samples=1, budgets=(16,), correct=lambda *k: False, ungraded=1)
    d = build_view_data([a, b]).data
    statuses = [d["labels"]["status"][s] for s in d["rows"]["status"]]
    assert statuses.count("ungraded") == 1
    assert len(d["flips"]) == 1  # the ungraded problem has no verdict in b: not a flip


def test_run_text_cannot_close_the_script_tag(tmp_path):
    run = plant_run(tmp_path, "r", problems=1, samples=1, budgets=(16,), finalize_run=False)
    hostile = "</script><script>document.title='owned'</script> @DATA@ <!-- \u2028 é 😀"
    g = Generation("math500", "math500-0000", 5, "elastic", "16", 16, 64, 3, 3, False, "stop", "eos", hostile + " </think>",
                   hostile, 1)
    RunStore(run).append_generations([g])
    RunStore(run).append_grades([GradeRecord.of(g, Verdict(False, "wrong", hostile))])
    page = write_view([run], tmp_path / "v.html").read_text(encoding="utf-8")
    assert page.count("</script>") == 3  # the data, the code, the texts: nothing from the run
    data, texts = _embedded(page, "data"), _embedded(page, "texts")
    assert hostile in data["labels"]["answer"] and hostile in texts
    # Lengths count UTF-16 units, as String.slice does in the page (😀 is two).
    i = data["rows"]["sample"].index(5)
    assert data["rows"]["thinkLen"][i] == len((hostile + " </think>").encode("utf-16-le")) // 2


def test_without_problems_file_the_benchmark_loader_supplies_text(tmp_path):
    from evalkit.benchmarks import load_problems

    run = plant_run(tmp_path, "r", benchmarks=("arith",), problems=1, samples=1, budgets=(16,), problems_file=False,
                    finalize_run=False)
    first = load_problems("arith", None)[0][0]
    # Planted ids are "arith-0000"; add a row with a real arith id, as a sweep would have written it.
    g = Generation("arith", first.id, 0, "elastic", "16", 16, 64, 1, 1, False, "stop", "eos", "t </think>", "9", 1)
    RunStore(run).append_generations([g])
    d = build_view_data([run]).data
    k = d["problems"]["id"].index(first.id)
    assert d["problems"]["text"][k] == first.prompt and d["problems"]["gold"][k] == first.answer


def test_missing_benchmark_data_is_said_on_the_page(tmp_path):
    run = plant_run(tmp_path, "r", benchmarks=("aime24",), problems=1, samples=1, budgets=(16,), problems_file=False,
                    finalize_run=False)
    info = RunStore(run).read_run()
    info["spec"]["data_dir"] = str(tmp_path / "nowhere")
    RunStore(run).write_run(info)
    view = build_view_data([run])
    assert view.data["problems"]["text"] == [None]
    assert any("aime24" in n and "ids only" in n for n in view.notes)
    assert "ids only" in write_view([run], tmp_path / "v.html").read_text()


def test_page_holds_plots_summary_identity_and_fetches_nothing(tmp_path):
    run = plant_run(tmp_path, "r")
    page = write_view([run], tmp_path / "v.html").read_text(encoding="utf-8")
    assert "data:image/svg+xml;base64," in page  # the plot, inline
    assert "demo/model" in page and "pass@1" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no external resource of any kind
    assert "@DATA@" not in page and "@RUNS@" not in page


def test_cli_writes_file_and_rejects_non_run(tmp_path):
    run = plant_run(tmp_path, "r", problems=1, samples=1, budgets=(16,), finalize_run=False)
    proc = subprocess.run([sys.executable, "-m", "evalkit", "view", str(run), "-o", str(tmp_path / "out.html")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.html").stat().st_size > 10_000
    proc = subprocess.run([sys.executable, "-m", "evalkit", "view", str(tmp_path / "nope")], capture_output=True, text=True,
                          timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "run.json" in lines[0], proc.stderr


def test_problems_file_written_by_another_shape_is_read(tmp_path):
    """problems.jsonl rows for code carry tests_source instead of gold; the page shows it in the gold's place."""
    run = plant_run(tmp_path, "r", problems=1, samples=1, budgets=(16,), problems_file=False, finalize_run=False)
    append_jsonl(run / "problems.jsonl", [{"id": "math500-0000", "benchmark": "math500", "kind": "code", "prompt": "Write it.",
                                           "tests_sha256": "ab" * 32, "tests_source": "lcb release_v5", "metadata": {}}])
    p = build_view_data([run]).data["problems"]
    assert p["text"] == ["Write it."] and p["tests"] == ["lcb release_v5"] and p["gold"] == [None]


def test_max_chars_caps_every_text_and_keeps_full_lengths(tmp_path):
    run = plant_run(tmp_path, "r", problems=2, samples=1, budgets=(16, 256), finalize_run=False)
    full = build_view_data([run]).data
    view = build_view_data([run], max_chars=30)
    rows, texts = view.data["rows"], view.texts
    assert max(len(t) for t in texts) <= 30 + len("\n[... cut here by evalkit view --max-chars]")
    assert rows["thinkLen"] == full["rows"]["thinkLen"]  # the page says how much was cut
    assert any(texts[rows["think"][i]] != "" and len(texts[rows["think"][i]]) < rows["thinkLen"][i] for i in range(len(rows["run"])))

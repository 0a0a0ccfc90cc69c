"""One or more run directories -> the compact data the viewer page embeds. Reads files only.

A run of 100,000 samples must become a page a browser opens in about a second, so the data is shaped for that:
- column arrays (one list per field, small ints for repeated labels), not one JSON object per sample;
- each problem's text once, in a problems table the rows point into;
- long texts (thinking, solutions, grader details) in a separate table, parsed by the page only when a sample is
  opened. Thinking under a smaller budget is a prefix of the shared thinking pass (DESIGN: one pass cut at every
  budget), so a row stores (text index, length) and the whole pass is kept once per problem x sample.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.config import label_order
from evalkit.errors import EvalkitError
from evalkit.store import GENERATIONS, GRADES, RunStore, iter_jsonl

PROBLEMS = "problems.jsonl"
CUT_MARK = "\n[... cut here by evalkit view --max-chars]"
UNGRADED = "ungraded"  # a generation with no verdict yet (grading was interrupted): shown, never counted as wrong


def utf16_len(text: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units): the page cuts thinking prefixes with String.slice."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


class Labels(dict):
    """Distinct values in first-seen order; `labels[value]` is its index (added on first sight). A dict, so a hit
    costs one C lookup: this runs several times per sample."""

    def __missing__(self, value: Any) -> int:
        i = self[value] = len(self)
        return i

    def list(self) -> list[Any]:
        return list(self.keys())


@dataclass
class ViewData:
    """What the page embeds: `data` (parsed at load) and `texts` (parsed when a sample is first opened)."""

    data: dict[str, Any]
    texts: list[str]
    notes: list[str] = field(default_factory=list)  # said on the page: what could not be shown and why


ROW_FIELDS = ("run", "prob", "sample", "strategy", "budget", "status", "correct", "forced", "tt", "st",
              "tfin", "sfin", "answer", "think", "thinkLen", "appended", "sol", "detail")


def load_problem_texts(run_dir: Path, run_info: dict[str, Any], benchmarks: set[str]) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str]]:
    """(benchmark, id) -> problems.jsonl row. Runs written before problems.jsonl existed: the benchmark's own
    loader, when the run's data is still where run.json says; else nothing (the page shows ids only)."""
    path = run_dir / PROBLEMS
    if path.exists():
        return {(r["benchmark"], str(r["id"])): r for r in iter_jsonl(path)}, []
    out: dict[tuple[str, str], dict[str, Any]] = {}
    notes = []
    try:
        from evalkit.benchmarks import load_problems
        from evalkit.config import SweepSpec

        spec = SweepSpec.from_json(run_info["spec"])
    except Exception as e:  # an offload run.json or an older layout: ids only, said on the page
        return {}, [f"{run_dir.name}: no {PROBLEMS} and run.json has no loadable spec ({type(e).__name__}): problem ids only"]
    for name in sorted(benchmarks):
        try:
            probs, _ = load_problems(name, spec.data_dir, None, spec.prompts, spec.benchmark_options)
        except Exception as e:  # data moved or never staged here: show ids, say why
            notes.append(f"{run_dir.name}: problems of {name} not loadable ({str(e).splitlines()[0] if str(e) else type(e).__name__}): ids only")
            continue
        for p in probs:
            out[(p.benchmark, p.id)] = {"prompt": p.prompt, "gold": p.answer, "kind": p.kind,
                                        "tests_source": f"{len(p.tests)} tests" if p.kind == "code" else None}
    return out, notes


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def build_view_data(run_dirs: list[Path], max_chars: int | None = None) -> ViewData:
    """`max_chars`: keep at most this many characters of each text (thinking, solution, grader detail); the page
    says how much was left out. None keeps everything."""
    if not run_dirs:
        raise EvalkitError("no run given: pass one or more results/<name> folders")
    lab = {k: Labels() for k in ("bench", "strategy", "budget", "status", "finish", "answer", "texts")}
    problems: dict[tuple[str, str], int] = {}
    prob_rows: list[dict[str, Any]] = []
    rows: list[tuple] = []
    runs, notes = [], []
    for ri, run_dir in enumerate(run_dirs):
        info = RunStore(run_dir).read_run()
        gens, grades = _read_rows(run_dir)
        if not gens:
            notes.append(f"{run_dir.name}: no generations yet")
        texts_of, more = load_problem_texts(run_dir, info, {k[0] for k in gens})
        notes += more
        runs.append({"name": run_dir.name, "dir": str(run_dir)})
        for pk in dict.fromkeys((k[0], k[1]) for k in gens):
            if pk not in problems:
                problems[pk] = len(prob_rows)
                prob_rows.append({"bench": lab["bench"][pk[0]], "id": pk[1], "row": texts_of.get(pk)})
            elif prob_rows[problems[pk]]["row"] is None:
                prob_rows[problems[pk]]["row"] = texts_of.get(pk)
        rows += _run_rows(ri, gens, grades, problems, lab, max_chars)
    cols = dict(zip(ROW_FIELDS, map(list, zip(*rows)))) if rows else {k: [] for k in ROW_FIELDS}
    budgets = lab["budget"].list()
    status = lab["status"]
    data = {
        "runs": runs,
        "labels": {k: lab[k].list() for k in ("bench", "strategy", "budget", "status", "finish", "answer")},
        "budgetOrder": sorted(range(len(budgets)), key=lambda i: label_order(budgets[i])),
        "problems": _problem_columns(prob_rows),
        "rows": cols,
        "flips": flips(cols, len(runs), status[UNGRADED] if UNGRADED in status else -1),
        "notes": notes,
    }
    return ViewData(data, lab["texts"].list(), notes)


def _read_rows(run_dir: Path) -> tuple[dict[tuple, dict[str, Any]], dict[tuple, dict[str, Any]]]:
    """generations and grades by row key, in display order: benchmark, problem (natural: 2 before 10), sample,
    strategy, budget (by tokens)."""
    gens: dict[tuple, dict[str, Any]] = {}
    for row in iter_jsonl(run_dir / GENERATIONS):
        key = (row["benchmark"], str(row["problem_id"]), row["sample"], row["strategy"], row["budget"])
        if key not in gens:  # first write wins, as in RunStore.generations
            gens[key] = row
    grades = {(g["benchmark"], str(g["problem_id"]), g["sample"], g["strategy"], g["budget"]): g
              for g in iter_jsonl(run_dir / GRADES)}  # a regrade appends: the last verdict wins
    natural = {pid: _natural(pid) for pid in {k[1] for k in gens}}
    order = {b: label_order(b) for b in {k[4] for k in gens}}
    keys = sorted(gens, key=lambda k: (k[0], natural[k[1]], k[2], k[3], order[k[4]]))
    return {k: gens[k] for k in keys}, grades


def _run_rows(ri: int, gens: dict[tuple, dict[str, Any]], grades: dict[tuple, dict[str, Any]],
              problems: dict[tuple[str, str], int], lab: dict[str, Labels], max_chars: int | None) -> list[tuple]:
    """One tuple per sample, fields in ROW_FIELDS order."""
    texts = lab["texts"]
    cap = (lambda t: t) if max_chars is None else (lambda t: t if len(t) <= max_chars else t[:max_chars] + CUT_MARK)
    # Each thinking text is stored once per problem x sample: the longest first, then every shorter one that is
    # its prefix points into it (budgets cut one shared pass); anything else is stored on its own.
    think: dict[tuple, int] = {}
    passes: dict[tuple, list[str]] = defaultdict(list)
    for key in sorted(gens, key=lambda k: -len(gens[k]["thinking_text"])):
        text = gens[key]["thinking_text"]
        group = passes[key[:3]]
        hit = next((t for t in group if t.startswith(text)), None)
        if hit is None:
            group.append(text)
            hit = text
        think[key] = texts[hit if max_chars is None else hit[:max_chars]]  # the page notes a cut (thinkLen)
    strategy, budget, status, finish, answer = lab["strategy"], lab["budget"], lab["status"], lab["finish"], lab["answer"]
    out = []
    for key, g in gens.items():
        rec = grades.get(key)
        out.append((
            ri, problems[key[0], key[1]], key[2], strategy[key[3]], budget[key[4]],
            status[rec["status"] if rec else UNGRADED], 1 if rec and rec["correct"] else 0, 1 if g.get("forced") else 0,
            g.get("thinking_tokens", 0), g.get("solution_tokens", 0),
            finish[g.get("thinking_finish")], finish[g.get("solution_finish")],
            answer[rec.get("extracted") if rec else None], think[key], utf16_len(g["thinking_text"]),
            1 if (g.get("extra") or {}).get("appended_tokens") else 0,
            texts[cap(g.get("solution_text") or "")], texts[cap(rec["detail"])] if rec and rec.get("detail") else -1,
        ))
    return out


def _problem_columns(prob_rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"bench": [], "id": [], "text": [], "gold": [], "kind": [], "tests": []}
    for p in prob_rows:
        r = p["row"] or {}
        out["bench"].append(p["bench"])
        out["id"].append(p["id"])
        out["text"].append(r.get("prompt"))
        out["gold"].append(r.get("gold"))
        out["kind"].append(r.get("kind"))
        out["tests"].append(r.get("tests_source") or r.get("tests_sha256"))
    return out


def flips(cols: dict[str, list[Any]], n_runs: int, ungraded: int) -> list[list[int]]:
    """Problems solved in one run and not in the other, per benchmark x strategy x budget: every run against the
    first. A problem counts as solved when at least half its graded samples are correct (with one sample: it is
    correct); rows carry both counts so 2/4 vs 1/4 is visible. Ungraded samples are left out.

    `ungraded`: the status index of rows with no verdict (-1: none). Each flip: [run, prob, strategy, budget, correct in first, graded in first, correct in run, graded in run]."""
    if n_runs < 2:
        return []
    tally: dict[tuple[int, int, int, int], list[int]] = defaultdict(lambda: [0, 0])
    for i in range(len(cols["run"])):
        key = (cols["run"][i], cols["prob"][i], cols["strategy"][i], cols["budget"][i])
        t = tally[key]
        if cols["status"][i] == ungraded:
            continue
        t[0] += cols["correct"][i]
        t[1] += 1
    out = []
    for (run, prob, strat, bud), (c, n) in sorted(tally.items()):
        if run == 0 or not n:
            continue
        base = tally.get((0, prob, strat, bud))
        if not base or not base[1]:
            continue
        if (2 * base[0] >= base[1]) != (2 * c >= n):
            out.append([run, prob, strat, bud, base[0], base[1], c, n])
    return out

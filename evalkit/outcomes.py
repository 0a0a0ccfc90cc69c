"""Per-problem outcomes of a run, read from a run directory or a baseline summary file, and baseline files written.

A paired comparison needs, per cell (benchmark x strategy x budget) and per problem, how many samples were
correct out of how many, and how many tokens they used; plus the identity that decides whether two runs may be
compared at all (dataset revision or sha256, prompt template, sampling). `RunOutcomes` holds exactly that, and a
baseline summary file (benchmarks/baselines/*.json) stores it compactly so CI can keep a baseline in git without
the run directory.

Baseline file (format version 1)::

    {"evalkit_baseline": 1, "label": ..., "created": ..., "source": {run, model, engine, versions},
     "identity": {"datasets": {bench: {...}}, "prompts": {bench: template}, "sampling": {...},
                  "solution_budget": s},
     "cells": [{"benchmark", "strategy", "budget", "thinking_budget", "solution_budget",
                "problems": {problem_id: [correct, total, mean_total_tokens]}}]}
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.store import RUN_JSON, RunStore
from evalkit.summary import budget_sort_key

BASELINE_FORMAT = 1
BASELINE_DIR = Path("benchmarks") / "baselines"
# Dataset identity fields that do not change which problems are asked: where the file sits on this machine, and
# how many problems this run used (--limit only changes how many pairs there are).
_DATASET_IGNORED = ("path", "count", "prompt")

CellKey = tuple[str, str, str]  # benchmark, strategy, budget label


@dataclass(frozen=True)
class ProblemOutcome:
    correct: int
    total: int
    mean_tokens: float  # thinking + solution tokens per sample

    @property
    def score(self) -> float:
        return self.correct / self.total


@dataclass(frozen=True)
class CellOutcomes:
    benchmark: str
    strategy: str
    budget: str
    thinking_budget: int | None
    solution_budget: int | None
    problems: dict[str, ProblemOutcome]

    @property
    def key(self) -> CellKey:
        return (self.benchmark, self.strategy, self.budget)


@dataclass(frozen=True)
class Identity:
    """What must match for two runs' scores to be comparable. The model is informational: it is what changes."""

    datasets: dict[str, dict[str, Any]]  # benchmark -> source identity (sha256, hub repo + revision, generator options)
    prompts: dict[str, str]  # benchmark -> prompt template
    sampling: dict[str, Any]  # temperature, top_p, top_k
    solution_budget: int | None
    model: str = ""
    close_text: str = "</think>"  # what elastic, s1 and native forced at the cut (--close-text)

    def to_json(self) -> dict[str, Any]:
        return {"datasets": self.datasets, "prompts": self.prompts, "sampling": self.sampling,
                "solution_budget": self.solution_budget, "model": self.model, "close_text": self.close_text}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> "Identity":
        return cls(dict(row.get("datasets", {})), dict(row.get("prompts", {})), dict(row.get("sampling", {})),
                   row.get("solution_budget"), str(row.get("model", "")), str(row.get("close_text", "</think>")))


@dataclass(frozen=True)
class RunOutcomes:
    label: str
    source: str  # the run directory or baseline file it was read from
    identity: Identity
    cells: dict[CellKey, CellOutcomes]
    ungraded: int = 0  # generations without a verdict, left out
    info: dict[str, Any] = field(default_factory=dict)  # model, engine, versions: shown, never compared

    def sorted_cells(self) -> list[CellOutcomes]:
        return sorted(self.cells.values(), key=lambda c: (c.benchmark, c.strategy, budget_sort_key(c.budget, c.thinking_budget)))


# reading ------------------------------------------------------------------------------------------------------

def identity_from_run_info(info: dict[str, Any]) -> Identity:
    spec = info.get("spec", {}) or {}
    fingerprint = info.get("fingerprint", {}) or {}
    datasets, prompts = {}, {}
    for bench, ident in (info.get("datasets") or {}).items():
        datasets[bench] = {k: v for k, v in ident.items() if k not in _DATASET_IGNORED}
        if "prompt" in ident:
            prompts[bench] = ident["prompt"]
    sampling = spec.get("sampling") or fingerprint.get("sampling") or {}
    model = (spec.get("engine") or {}).get("model") or fingerprint.get("engine.model") or ""
    return Identity(datasets, prompts, dict(sampling), spec.get("solution_budget", fingerprint.get("solution_budget")), str(model),
                    str(spec.get("close_text") or "</think>"))


def outcomes_from_run(run_dir: Path) -> RunOutcomes:
    """Per-problem outcomes of every graded generation in a run directory."""
    store = RunStore(run_dir)
    info = store.read_run()
    grades = store.grades()
    acc: dict[CellKey, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0.0]))
    budgets: dict[CellKey, tuple[int | None, int | None]] = {}
    ungraded = 0
    for g in store.generations():
        rec = grades.get(g.key)
        if rec is None:
            ungraded += 1
            continue
        key = (g.benchmark, g.strategy, g.budget)
        slot = acc[key][g.problem_id]
        slot[0] += int(rec.correct)
        slot[1] += 1
        slot[2] += g.total_tokens
        budgets.setdefault(key, (g.thinking_budget, g.solution_budget))
    cells = {
        key: CellOutcomes(*key, *budgets[key], {pid: ProblemOutcome(int(c), int(n), t / n) for pid, (c, n, t) in probs.items()})
        for key, probs in acc.items()
    }
    root = Path(run_dir)
    return RunOutcomes(root.name or str(root), str(root), identity_from_run_info(info), cells, ungraded, _run_context(info))


def _run_context(info: dict[str, Any]) -> dict[str, Any]:
    spec = info.get("spec", {}) or {}
    engine = {k: v for k, v in (info.get("engine") or {}).items() if k != "path"}  # a local cache path means nothing elsewhere
    return {"model": (spec.get("engine") or {}).get("model"), "engine": engine,
            "samples": spec.get("samples"), "seed": spec.get("seed"), "versions": info.get("versions", {})}


def read_baseline(path: Path) -> RunOutcomes:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise EvalkitError(f"{path} is not a readable baseline file ({e}): write one with `evalkit baseline RUN -o {path}`") from None
    if not isinstance(doc, dict) or doc.get("evalkit_baseline") != BASELINE_FORMAT:
        raise EvalkitError(f"{path} is not an evalkit baseline file (format {BASELINE_FORMAT}): write one with `evalkit baseline RUN -o {path}`")
    cells: dict[CellKey, CellOutcomes] = {}
    try:
        for c in doc["cells"]:
            probs = {pid: ProblemOutcome(int(v[0]), int(v[1]), float(v[2])) for pid, v in c["problems"].items()}
            if any(p.total < 1 or not 0 <= p.correct <= p.total for p in probs.values()):
                raise ValueError("a problem has correct > total or total < 1")
            cell = CellOutcomes(str(c["benchmark"]), str(c["strategy"]), str(c["budget"]), c.get("thinking_budget"),
                                c.get("solution_budget"), probs)
            cells[cell.key] = cell
        identity = Identity.from_json(doc["identity"])
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise EvalkitError(f"{path} has a malformed cell or identity ({e}): regenerate it with `evalkit baseline RUN -o {path}`") from None
    return RunOutcomes(str(doc.get("label") or Path(path).stem), str(path), identity, cells, 0, dict(doc.get("source", {})))


def resolve(arg: str | Path) -> Path:
    """A run directory, a baseline file, or the bare name of a file in benchmarks/baselines/."""
    p = Path(arg)
    if p.exists():
        return p
    for candidate in (BASELINE_DIR / p, BASELINE_DIR / f"{p}.json"):
        if candidate.is_file():
            return candidate
    raise EvalkitError(f"{arg} not found: pass a run directory (results/<name>) or a baseline file ({BASELINE_DIR}/<name>.json)")


def load_outcomes(arg: str | Path) -> RunOutcomes:
    p = resolve(arg)
    if p.is_dir():
        if not (p / RUN_JSON).exists():
            raise EvalkitError(f"{p} is not an evalkit run directory (no {RUN_JSON}): pass results/<name> or a baseline .json file")
        return outcomes_from_run(p)
    return read_baseline(p)


# writing ------------------------------------------------------------------------------------------------------

def write_baseline(outcomes: RunOutcomes, path: Path) -> Path:
    """Write a baseline file atomically; one problem per line, so a baseline update reads well in a git diff."""
    if not outcomes.cells:
        raise EvalkitError(f"{outcomes.source} has no graded generations: run `evalkit grade {outcomes.source}` first")
    head = {
        "evalkit_baseline": BASELINE_FORMAT,
        "label": outcomes.label,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "source": {"run": outcomes.source, **outcomes.info},
        "identity": outcomes.identity.to_json(),
    }
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True, default=str)}," for k, v in head.items()]
    lines.append('  "cells": [')
    cells = outcomes.sorted_cells()
    for i, c in enumerate(cells):
        meta = {"benchmark": c.benchmark, "strategy": c.strategy, "budget": c.budget,
                "thinking_budget": c.thinking_budget, "solution_budget": c.solution_budget}
        lines.append("    {" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in meta.items()) + ', "problems": {')
        items = sorted(c.problems.items(), key=lambda kv: _natural(kv[0]))
        for j, (pid, o) in enumerate(items):
            sep = "," if j < len(items) - 1 else ""
            lines.append(f"      {json.dumps(pid)}: [{o.correct}, {o.total}, {round(o.mean_tokens, 2)}]{sep}")
        lines.append("    }}" + ("," if i < len(cells) - 1 else ""))
    lines += ["  ]", "}"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def _natural(text: str) -> list[Any]:
    """'p-2' before 'p-10'."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]

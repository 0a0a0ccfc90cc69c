"""Build run directories with known per-problem outcomes, written by the real store, run.json and summary code.

Used by the report, stats and plot tests: what a sweep would have written, minus the model.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Sequence

from evalkit.config import EngineSpec, SweepSpec
from evalkit.runinfo import run_info
from evalkit.store import RunStore
from evalkit.sweep import finalize
from evalkit.types import Generation, GradeRecord, Sampling

PROMPT = "{problem} Let's think step by step and output the final answer within \\boxed{{}}."
# cell key (benchmark, strategy, budget label) -> per problem, the correctness of each sample
Outcomes = dict[tuple[str, str, str], Sequence[Sequence[bool]]]


def flips(n: int, correct: int) -> list[list[bool]]:
    """n problems with one sample each; the first `correct` are right."""
    return [[i < correct] for i in range(n)]


def make_run(
    root: Path,
    name: str,
    cells: Outcomes,
    *,
    tokens: Callable[[str, int, int], int] = lambda budget, problem, sample: 20 + problem % 7,
    temperature: float = 0.6,
    prompt: str = PROMPT,
    sha256: str = "0" * 64,
    solution_budget: int = 32,
    model: str = "demo/model-a",
    summary: bool = False,
    ungraded: int = 0,
    close_text: str = "</think>",
) -> Path:
    benches = sorted({b for b, _, _ in cells})
    budgets = sorted({int(lbl) for _, _, lbl in cells if lbl.isdigit()}) or [16]
    spec = SweepSpec(name=name, engine=EngineSpec(model=model), benchmarks=tuple(benches), budgets=tuple(budgets),
                     solution_budget=solution_budget, sampling=Sampling(temperature=temperature), out_root=str(root),
                     close_text=close_text)
    store = RunStore(root / name)
    datasets = {b: {"source": "local", "path": f"/data/{name}/{b}.jsonl", "sha256": sha256, "count": 40, "prompt": prompt} for b in benches}
    store.write_run(run_info(spec, {"engine": "fake", "model": model}, datasets, None))
    store.open_for_append()
    gens, recs = [], []
    for (bench, strategy, label), problems in cells.items():
        tb = int(label) if label.isdigit() else None
        for i, samples in enumerate(problems):
            for s, ok in enumerate(samples):
                n = tokens(label, i, s)
                g = Generation(bench, f"{bench}-{i:03d}", s, strategy, label, tb, solution_budget, n // 2, n - n // 2,
                               False, "length", "eos", "", "", s)
                gens.append(g)
                recs.append(GradeRecord.of(g, _verdict(ok)))
    store.append_generations(gens)
    store.append_grades(recs[: len(recs) - ungraded])
    if summary:
        finalize(store)
    return store.root


def _verdict(ok: bool):
    from evalkit.types import Verdict

    return Verdict(bool(ok), "ok" if ok else "wrong", "1")


def run_cli(monkeypatch, *args: str) -> int:
    """Run `evalkit ARGS` in-process through cli.main, as the console script does; return its exit code."""
    from evalkit.cli import main

    monkeypatch.setattr(sys, "argv", ["evalkit", *map(str, args)])
    try:
        main()
    except SystemExit as e:
        return int(e.code or 0)
    return 0

"""Plant run directories for the viewer: what a sweep writes (run.json, problems.jsonl, generations, grades,
summary, plots), with thinking cut from one shared pass per problem x sample as the elastic controller cuts it.

Used by tests/test_view*.py and bench/view_scale.py (100,000 samples): no engine, everything from a seed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable, Sequence

from evalkit.config import EngineSpec, SweepSpec
from evalkit.runinfo import run_info
from evalkit.store import RunStore, append_jsonl
from evalkit.types import Generation, GradeRecord, Sampling, Verdict

WORDS = ("so", "the", "sum", "is", "wait", "let", "me", "check", "carry", "then", "we", "get", "hmm", "factor",
         "divide", "by", "both", "sides", "because", "square", "root", "of", "angle", "triangle", "modulo", "prime")

# (benchmark, problem index, sample, strategy, budget label) -> correct?
Correct = Callable[[str, int, int, str, str], bool]


def problem_text(bench: str, i: int) -> str:
    return f"Problem {i} of {bench}: find the number of lattice points inside a triangle with vertices " \
           f"(0,0), ({i + 3},0), (0,{2 * i + 5}). Let's think step by step and output the final answer within \\boxed{{}}."


def plant_run(
    root: Path,
    name: str,
    *,
    benchmarks: Sequence[str] = ("math500",),
    problems: int = 6,
    samples: int = 2,
    strategies: Sequence[str] = ("elastic",),
    budgets: Sequence[int] = (16, 64),
    correct: Correct = lambda b, i, s, st, lbl: (i + s) % 2 == 0,
    seed: int = 0,
    ungraded: int = 0,
    problems_file: bool = True,
    finalize_run: bool = True,
) -> Path:
    rng = random.Random(seed)
    spec = SweepSpec(name=name, engine=EngineSpec(model="demo/model"), benchmarks=tuple(benchmarks),
                     budgets=tuple(budgets), strategy=tuple(strategies), samples=samples, solution_budget=64,
                     sampling=Sampling(), out_root=str(root))
    store = RunStore(root / name)
    store.write_run(run_info(spec, {"engine": "planted", "model": "demo/model"}, {}, None))
    store.open_for_append()
    if problems_file:
        append_jsonl(store.path("problems.jsonl"), (
            {"id": f"{b}-{i:04d}", "benchmark": b, "kind": "math", "prompt": problem_text(b, i), "gold": str(i * 3 + 1),
             "metadata": {}} for b in benchmarks for i in range(problems)))
    gens, recs = [], []
    for b in benchmarks:
        for i in range(problems):
            for s in range(samples):
                # One thinking pass per problem x sample, cut at every budget (a natural end when it is short).
                length = rng.randint(max(budgets) // 3, max(budgets) * 3 // 2)
                words = [rng.choice(WORDS) for _ in range(length)]
                for st in strategies:
                    for t in budgets:
                        forced = length > t
                        thinking = " ".join(words[:t]) if forced else " ".join(words) + " </think>"
                        ok = correct(b, i, s, st, str(t))
                        answer = str(i * 3 + 1) if ok else str(rng.randint(0, 999))
                        said = " ".join(rng.choice(WORDS) for _ in range(12))  # solutions differ, as real ones do
                        sol = f"{said.capitalize()}. Therefore the count is {answer}. The answer is \\boxed{{{answer}}}."
                        g = Generation(b, f"{b}-{i:04d}", s, st, str(t), t, 64, min(length, t), len(sol) // 4, forced,
                                       "length" if forced else "stop", "eos", thinking, sol, rng.randint(0, 2**31),
                                       extra={"appended_tokens": 3 if forced else 0})
                        gens.append(g)
                        recs.append(GradeRecord.of(g, Verdict(ok, "ok" if ok else "wrong", answer)))
    store.append_generations(gens)
    store.append_grades(recs[: len(recs) - ungraded])
    if finalize_run:
        from evalkit.run.session import finalize

        finalize(store)
    return store.root


def read_rows(run: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (run / name).read_text().splitlines() if line.strip()]


CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser_missing() -> str | None:
    """Why a headless-chromium test cannot run here, or None. The system driver only: never downloaded."""
    import os

    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[dev]'"
    if not any(os.path.exists(p) for p in CHROMIUM):
        return "chromium is not installed: apt-get install -y chromium chromium-driver"
    if not os.path.exists(CHROMEDRIVER):
        return "chromedriver is not installed: apt-get install -y chromium-driver"
    return None


def chrome(width: int = 1400, height: int = 1000):
    """Headless chromium through the system chromedriver, with the browser console log kept."""
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = next(p for p in CHROMIUM if os.path.exists(p))
    # --no-sandbox: CI containers run as root, where chromium refuses its sandbox.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)

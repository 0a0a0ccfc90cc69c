"""Grade the staged LiveCodeBench solutions two ways in one process and compare throughput and verdicts.

1. evalkit: CodeGrader - namespace sandbox, tests of a solution in parallel workers, stop at the first failure.
2. plain: a serial runner - one `subprocess.run` per test, no namespaces, same harness and the same first-failure
   rule, so both produce the same verdicts and only the execution strategy differs.

Prints programs/s and tests/s of each, their ratio, and agreement with the official labels on reproducible rows.

    python bench/code_grading.py [--data-dir ../shared/data] [--workers 2] [--limit N] [--time-scale 1.0]

The two runners alternate over chunks of rows so that both see the same load on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evalkit.grading.code import RESULT_MARK, CodeGrader, compare_functional, compare_stdout, limits_for, resource_status
from evalkit.grading.lcb_suite import load_suite
from evalkit.grading.sandbox import HARNESS, HARNESS_SOURCE, RunRequest, RunResult, site_paths


def plain_grade(problem, code: str, time_scale: float) -> tuple[bool, int]:
    """Serial: one subprocess per test, stop at the first failure. Returns (passed, tests run)."""
    limits = limits_for(problem, time_scale)
    ran = 0
    for test in problem.tests:
        ran += 1
        with tempfile.TemporaryDirectory() as d:
            Path(d, "prog.py").write_text(code)
            Path(d, HARNESS).write_text(HARNESS_SOURCE)
            mode = "lcb-functional" if test.kind == "functional" else "lcb-stdin"
            config = {"mode": mode, "func_name": problem.metadata.get("func_name"), "argv": [],
                      "limits": limits.rlimits(), "site": site_paths(), "jail": None}
            t0 = time.monotonic()
            res = RunResult(RunRequest(files={}, limits=limits))
            try:
                p = subprocess.run([sys.executable, "-I", "-S", HARNESS, json.dumps(config)], cwd=d,
                                   input=test.input.encode(), capture_output=True, timeout=limits.wall)
                res.exit_code, res.stdout, res.stderr = p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
                if p.returncode < 0:
                    res.exit_code, res.signal = None, -p.returncode
            except subprocess.TimeoutExpired:
                res.wall_timeout = True
            res.wall_seconds = time.monotonic() - t0  # CPU is bounded by the harness's rlimit (SIGXCPU)
        bad = resource_status(res, limits)
        if bad is not None:
            return False, ran
        text = res.stdout.decode("utf-8", "replace")
        if test.kind == "functional":
            ok = RESULT_MARK in text and compare_functional(text.rsplit(RESULT_MARK, 1)[1].strip(), test.output)[0]
        else:
            ok = compare_stdout(text, test.output)[0]
        if not ok:
            return False, ran
    return True, ran


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("EVALKIT_TEST_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="grade only the first N rows")
    ap.add_argument("--time-scale", type=float, default=1.0, help="scale the official 6 s per-test limit")
    ap.add_argument("--chunk", type=int, default=25, help="rows per alternation between the two runners")
    args = ap.parse_args()
    rows = load_suite(Path(args.data_dir))[: args.limit]
    items = [(r.problem, r.code) for r in rows]

    # The two runners alternate chunk by chunk, so both see the same machine load (shared machines drift).
    grader = CodeGrader(workers=args.workers, time_scale=args.time_scale, full_detail=False)
    isolation = grader.isolation
    verdicts, plain = [], []
    sandbox_s = plain_s = 0.0
    for start in range(0, len(items), args.chunk):
        chunk = items[start : start + args.chunk]
        t0 = time.monotonic()
        verdicts += grader.grade_programs(chunk)
        sandbox_s += time.monotonic() - t0
        t0 = time.monotonic()
        plain += [plain_grade(p, c, args.time_scale) if c and c.strip() else (False, 0) for p, c in chunk]
        plain_s += time.monotonic() - t0
    grader.close()
    plain_tests = sum(n for _, n in plain)

    rep = [i for i, r in enumerate(rows) if r.reproducible == "yes"]
    agree = sum(verdicts[i].correct == rows[i].expected_pass for i in rep)
    agree_plain = sum(plain[i][0] == rows[i].expected_pass for i in rep)
    same = sum(v.correct == p[0] for v, p in zip(verdicts, plain))
    print(f"rows: {len(rows)}  (reproducible labels: {len(rep)})  isolation: {isolation}  workers: {args.workers}  "
          f"time scale: {args.time_scale:g}  cpus: {os.cpu_count()}")
    print(f"evalkit sandbox : {sandbox_s:7.1f} s  {len(rows) / sandbox_s:6.2f} programs/s  "
          f"agreement with official labels {agree}/{len(rep)}")
    print(f"plain serial    : {plain_s:7.1f} s  {len(rows) / plain_s:6.2f} programs/s  {plain_tests / plain_s:6.1f} tests/s  "
          f"agreement {agree_plain}/{len(rep)}")
    print(f"speed-up (plain time / evalkit time): {plain_s / sandbox_s:.2f}x   same verdict on {same}/{len(rows)} rows")


if __name__ == "__main__":
    main()

"""Grading beside generation on a code sweep: the engine confined to one core, grading to another.

    python bench/code_overlap.py [--limit 6] [--samples 4] [--budgets 64,128,256] [--max-inflight 8]
                                 [--grade-workers 2] [--first-failure] [--old-loop [--old-batch 64]]

One process, one in-process vLLM engine (demo model), the staged LiveCodeBench and Codeforces problems (--limit of
each). vLLM's engine core and worker processes (OpenMP via VLLM_CPU_OMP_THREADS_BIND) are bound to --engine-core;
once the engine has started, every thread of this process is bound to --grade-core, so the grading threads, their
sandboxes and the programs they run, all spawned later, inherit it: an accelerator with a host CPU beside it. A
watcher samples /proc and prints the cores each side ran on, and /proc/stat says where each core's time went
(the engine, this process and its grading, other tenants of a shared machine, idle, hypervisor steal).

The same sweep (same seeds; prefix cache reset before each):

  (1) generation alone   the sweep's groups through evalkit's runner with grading off;
  (2) grading alone      every row of (3) graded again in the foreground, as `evalkit grade --regrade` does;
  (3) streaming sweep    `run_sweep`: rows graded in background threads while generation goes on; its run.json
                         timing gives the wall and the engine's idle time;
  old loop (--old-loop)  64 groups generated, then graded in the foreground, then the next 64. Without it, its
                         grading share is estimated as (2) / ((1) + (2)), which it is exactly up to 64 groups.

Goals: engine idle <= 5 % of (3)'s wall; (3)'s wall <= 1.1 x max((1), (2)); grading >= 1/3 of the old loop's wall
(what the sweep is sized for).

Sizing. The demo model writes poor code: a program fails its first test and the grader stops there, so a row costs
one sandbox run (~0.1 s) against ~2 s of one core's generation, and grading would be ~2 % of the old loop. So by
default the code grader runs every test of every program (CodeGrader's `full_detail`; the verdict is still the
first failure's): the cost of a model whose programs pass most tests (the staged LiveCodeBench problems have 42-44
each). `--first-failure` grades as a normal sweep does. `truncate` gives each generated sequence three graded rows
(its cuts at 64, 128 and 256 tokens). --max-inflight 8 keeps groups flowing through the engine: with every group
in flight at once they would all finish in the last steps, leaving grading nothing to overlap (a real sweep has
thousands of groups for its engine's slots); on one CPU core the engine's tokens/s hardly depend on the batch.
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

# ---- processes, threads and cores (Linux /proc) ---------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                out += [int(x) for x in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def _subtree(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack += _children(p)
    return out


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def _pin(pids: list[int], cpus: set[int]) -> None:
    for pid in pids:
        for tid in _threads(pid):
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:  # a thread that just ended
                pass


def _cpu_stat(pid: int, tid: int) -> tuple[int, int] | None:
    """(CPU ticks used, core it last ran on) of one thread."""
    try:
        fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12]), int(fields[36])


class CoreWatch(threading.Thread):
    """Samples /proc every `period` seconds: for each thread of the engine's processes and of the grading
    processes (every other descendant of this process), the core it ran on when it used CPU since the last sample,
    and its allowed cores."""

    def __init__(self, engine_roots: list[int], period: float = 0.5) -> None:
        super().__init__(name="core-watch", daemon=True)
        self.engine_roots, self.period = engine_roots, period
        self.ran = {"engine": collections.Counter(), "grading": collections.Counter(), "bench": collections.Counter()}
        self.allowed: dict[str, set[tuple[int, ...]]] = {k: set() for k in self.ran}
        self.grading_pids: set[int] = set()
        self._ticks: dict[int, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def sample(self) -> None:
        me = os.getpid()
        engine = {p for r in self.engine_roots for p in _subtree(r)}
        for pid in _subtree(me):
            side = "bench" if pid == me else "engine" if pid in engine else "grading"
            for tid in _threads(pid):
                st = _cpu_stat(pid, tid)
                if st is None:
                    continue
                ticks, core = st
                before = self._ticks.get(tid)
                self._ticks[tid] = ticks
                try:
                    self.allowed[side].add(tuple(sorted(os.sched_getaffinity(tid))))
                except OSError:
                    continue
                if side == "grading":
                    self.grading_pids.add(pid)
                # A thread seen for the first time counts only if it is new work (grading); engine threads had
                # run before they were bound.
                if (before is not None and ticks > before) or (before is None and side == "grading" and ticks > 0):
                    self.ran[side][core] += 1

    def report(self) -> str:
        def fmt(side: str) -> str:
            cores = ", ".join(f"core {c}: {n}" for c, n in sorted(self.ran[side].items())) or "none"
            allowed = " ".join("{" + ",".join(map(str, a)) + "}" for a in sorted(self.allowed[side])) or "-"
            return f"ran on {cores} (thread samples); allowed {allowed}"

        return (f"    engine processes : {fmt('engine')}\n"
                f"    grading processes: {fmt('grading')}; {len(self.grading_pids)} processes seen\n"
                f"    this process     : {fmt('bench')}")


def _process_ticks(pid: int, children: bool = False) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(x) for x in fields[11:15 if children else 13])


def _core_ticks(cores: tuple[int, ...]) -> dict[int, tuple[int, int, int]]:
    """(busy, idle, stolen) ticks of each core since boot, from /proc/stat."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *vals = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            v = [int(x) for x in vals]  # user nice system idle iowait irq softirq steal
            out[int(name[3:])] = (v[0] + v[1] + v[2] + v[5] + v[6], v[3] + v[4], v[7])
    return out


class CoreClock:
    """Where the two cores' time went during one mode: the engine's processes, this process with the grading
    processes it waited for, anything else on the machine, idle, and time the hypervisor took (steal)."""

    def __init__(self, engine_pids: list[int], engine_core: int, grade_core: int) -> None:
        self.engine_pids, self.cores = engine_pids, (engine_core, grade_core)

    def snapshot(self) -> tuple:
        return (time.monotonic(), sum(_process_ticks(p) for p in self.engine_pids),
                _process_ticks(os.getpid(), children=True), _core_ticks(self.cores))

    def since(self, before: tuple) -> str:
        now = self.snapshot()
        hz = os.sysconf("SC_CLK_TCK")
        engine, host = (now[1] - before[1]) / hz, (now[2] - before[2]) / hz
        (e, g) = self.cores
        d = {c: [(n - b) / hz for n, b in zip(now[3][c], before[3][c])] for c in self.cores}
        return (f"{now[0] - before[0]:6.1f} s wall | core {e}: engine {engine:6.1f} s, "
                f"other {d[e][0] - engine:5.1f} s, "
                f"idle {d[e][1]:5.1f} s, steal {d[e][2]:4.1f} s | core {g}: this process + grading {host:6.1f} s, "
                f"other {d[g][0] - host:5.1f} s, idle {d[g][1]:5.1f} s, steal {d[g][2]:4.1f} s")


# ---- the four modes --------------------------------------------------------------------------------------------


class NoGrading:
    """Grading off, for generation alone: what the runner hands over is dropped."""

    submitted = done = errors = 0

    def submit(self, items: Any) -> None:
        pass

    def drain(self) -> None:
        pass

    def busy_seconds(self) -> float:
        return 0.0


def generate_groups(spec: Any, engine: Any, problems: dict, batch: int | None = None,
                    between: Callable[[list], float] | None = None) -> tuple[float, float, float]:
    """Run the sweep's groups through evalkit's runner with grading off, `batch` groups at a time (all at once when
    None), calling `between(rows)` after each batch (the old loop's foreground grading; it returns its seconds).
    Returns (wall, generating, grading) seconds."""
    from evalkit.run.runner import Runner
    from evalkit.store import RunStore
    from evalkit.sweep import plan_missing, sweep_groups

    store = RunStore(spec.run_dir)
    store.open_for_append()
    groups = sweep_groups(spec, engine, store, plan_missing(spec, problems, set()))
    step = batch or len(groups)
    gen_s = grade_s = 0.0
    t0 = time.monotonic()
    for start in range(0, len(groups), step):
        rows: list = []

        def write(gens: list) -> None:
            store.append_generations(gens)
            rows.extend(gens)

        runner = Runner([engine], write, NoGrading(), None, spec.max_inflight)  # type: ignore[arg-type]
        gen_s += runner.run(groups[start:start + step]).timing.generate_s
        if between is not None:
            grade_s += between(rows)
    return time.monotonic() - t0, gen_s, grade_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-demo")
    ap.add_argument("--data-dir", default=os.environ.get("EVALKIT_DATA_DIR") or os.environ.get("EVALKIT_TEST_DATA")
                    or str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=6, help="problems of each benchmark (8 staged LiveCodeBench ones)")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--strategy", default="truncate")
    ap.add_argument("--budgets", default="64,128,256")
    ap.add_argument("--solution-budget", default="64", help="elastic and s1 only")
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--max-inflight", type=int, default=8)
    ap.add_argument("--max-model-len", type=int, default=4096)
    ap.add_argument("--grade-workers", type=int, default=2, help="parallel sandboxes, all on --grade-core")
    ap.add_argument("--first-failure", action="store_true", help="stop each program at its first failing test")
    ap.add_argument("--engine-core", type=int, default=0)
    ap.add_argument("--grade-core", type=int, default=1)
    ap.add_argument("--old-batch", type=int, default=64, help="groups per batch of the old loop")
    ap.add_argument("--old-loop", action="store_true", help="also run the old loop (meaningful beyond 64 groups)")
    ap.add_argument("--keep", default=None, help="write the run directories here instead of a temporary folder")
    args = ap.parse_args()

    allowed = os.sched_getaffinity(0)
    if args.engine_core == args.grade_core or not {args.engine_core, args.grade_core} <= allowed:
        ap.error(f"--engine-core {args.engine_core} and --grade-core {args.grade_core} must be two different cores "
                 f"of {sorted(allowed)}: e.g. --engine-core 0 --grade-core 1")
    # Read by vLLM when its worker starts: OpenMP threads (one) on the engine core.
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = str(args.engine_core)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")  # vLLM logs to stdout: keep the figures readable

    from rich.console import Console

    import evalkit.grading.code as code_grading
    from evalkit.config import EngineSpec, SweepSpec, parse_budget, parse_budget_list
    from evalkit.engines.vllm import VLLMEngine
    from evalkit.grading.dispatch import Grading, code_isolation
    from evalkit.run.session import load_all_problems
    from evalkit.store import RunStore
    from evalkit.sweep import run_sweep
    from evalkit.types import GradeRecord, Sampling

    if not args.first_failure:
        # Every grader the sweep, the regrade and the old loop build runs every test (see the module docstring).
        class AllTests(code_grading.CodeGrader):
            def __init__(self, *a: Any, **kw: Any) -> None:
                super().__init__(*a, **{**kw, "full_detail": True})

        code_grading.CodeGrader = AllTests  # type: ignore[misc]

    engine_spec = EngineSpec(model=args.model, max_model_len=args.max_model_len)
    tmp = tempfile.TemporaryDirectory() if args.keep is None else None
    out_root = args.keep or tmp.name  # type: ignore[union-attr]

    def spec(name: str) -> SweepSpec:
        return SweepSpec(
            name=name, engine=engine_spec, benchmarks=("livecodebench", "codeforces"),
            budgets=parse_budget_list(args.budgets), solution_budget=parse_budget(args.solution_budget),
            strategy=args.strategy, samples=args.samples, sampling=Sampling(temperature=args.temperature),
            limit=args.limit, data_dir=args.data_dir, out_root=out_root, max_inflight=args.max_inflight,
            grade_workers=args.grade_workers,
        )

    # Problems and the sandbox before the engine starts: a bad flag or missing isolation fails at once.
    problems, _ = load_all_problems(spec("x"))
    by_key = {(p.benchmark, p.id): p for ps in problems.values() for p in ps}
    isolation = code_isolation(["code"])
    t_start = time.monotonic()
    engine = VLLMEngine(engine_spec)
    start_s = time.monotonic() - t_start
    engine_roots = _children(os.getpid())  # everything the engine start spawned: engine core, worker, tracker
    engine_pids = [p for r in engine_roots for p in _subtree(r)]
    _pin(engine_pids, {args.engine_core})
    _pin([os.getpid()], {args.grade_core})
    watch = CoreWatch(engine_roots)
    watch.start()

    quiet = Console(stderr=True, quiet=True)

    def grade_rows(grading: Grading, rows: list, store: RunStore | None = None) -> tuple[float, dict[tuple, str]]:
        """Rows graded in the foreground, as `evalkit grade` does: (seconds, status per key)."""
        t0 = time.monotonic()
        items = [(by_key[(g.benchmark, g.problem_id)], g) for g in rows]
        records = [GradeRecord.of(g, v) for (_, g), v in zip(items, grading.grade(items))]
        seconds = time.monotonic() - t0
        if store is not None:
            store.append_grades(records)
        return seconds, {r.key: r.status for r in records}

    def new_grading() -> Grading:
        return Grading(args.grade_workers, spec("x").grade_timeout, isolation=isolation)

    try:
        # (3) the streaming sweep first, so that any warm-up cost falls on it.
        engine.llm.reset_prefix_cache()
        clock, where = CoreClock(engine_pids, args.engine_core, args.grade_core), {}
        before = clock.snapshot()
        stream = run_sweep(spec("stream"), console=quiet, engine=engine)
        where["(3) streaming"] = clock.since(before)
        timing = stream.timing or {}

        # (1) generation alone.
        engine.llm.reset_prefix_cache()
        before = clock.snapshot()
        _, gen_s, _ = generate_groups(spec("generate"), engine, problems)
        where["(1) generation"] = clock.since(before)

        # (2) grading alone: the streaming run's rows, regraded.
        store = RunStore(spec("stream").run_dir)
        rows = store.generations()
        stream_status = {k: r.status for k, r in store.grades().items()}
        grading = new_grading()
        before = clock.snapshot()
        try:
            grade_s, regraded = grade_rows(grading, rows)
        finally:
            grading.close()
        where["(2) grading"] = clock.since(before)
        same = sum(regraded.get(k) == s for k, s in stream_status.items())
        statuses = collections.Counter(regraded.values())

        # (4) the old loop: one grader for the whole sweep, as before.
        old = None
        if args.old_loop:
            engine.llm.reset_prefix_cache()
            old_store, grading = RunStore(spec("old").run_dir), new_grading()
            before = clock.snapshot()
            try:
                old = generate_groups(spec("old"), engine, problems, batch=args.old_batch,
                                      between=lambda r: grade_rows(grading, r, old_store)[0])
            finally:
                grading.close()
            where["(4) old loop"] = clock.since(before)
    finally:
        watch.stop()
        engine.close()

    groups = len(problems["livecodebench"]) + len(problems["codeforces"])
    wall = timing["wall_s"]
    print(f"code sweep: livecodebench x {len(problems['livecodebench'])} + codeforces x {len(problems['codeforces'])} "
          f"problems x {args.samples} samples = {groups * args.samples} groups, {args.strategy} budgets {args.budgets}"
          f" -> {len(rows)} rows; model {args.model}, T={args.temperature}, max in flight {args.max_inflight}")
    print(f"engine on core {args.engine_core} (started in {start_s:.0f} s), grading on core {args.grade_core} "
          f"({args.grade_workers} sandboxes, isolation {isolation}, "
          f"{'first failure stops a program' if args.first_failure else 'every test of every program'})")
    print(f"cores (sampled every {watch.period:g} s):\n" + watch.report())
    print("CPU time per mode (each whole call: (3) includes run_sweep's setup, summary and plots):")
    for name, line in where.items():
        print(f"    {name:<15}: {line}")
    print(f"verdicts: {dict(statuses.most_common())}; regrade = streaming verdict on {same}/{len(stream_status)} rows")
    print(f"(1) generation alone     : {gen_s:7.1f} s   ({stream.generated_tokens} tokens in the streaming sweep)")
    print(f"(2) grading alone        : {grade_s:7.1f} s   ({len(rows)} rows regraded in the foreground)")
    print(f"(3) streaming sweep wall : {wall:7.1f} s   generate {timing['generate_s']:.1f} s, engine busy "
          f"{timing['engine_busy_s']:.1f} s, grading {timing['grading_s']:.1f} s, grading tail "
          f"{timing['grading_tail_s']:.1f} s")
    idle, idle_tail = timing["engine_idle_s"] / wall, (wall - timing["engine_busy_s"]) / wall
    print(f"    engine idle          : {timing['engine_idle_s']:7.1f} s = {100 * idle:.1f} % of the wall "
          f"(goal <= 5 %); with the grading tail {100 * idle_tail:.1f} %")
    print(f"(4) wall / max(1, 2)     : {wall / max(gen_s, grade_s):7.3f}   (goal <= 1.1)")
    if old is not None:
        old_wall, old_gen, old_grade = old
        print(f"old loop ({args.old_batch}-group batches, grading in the foreground): {old_wall:.1f} s = generate "
              f"{old_gen:.1f} s + grade {old_grade:.1f} s; grading {100 * old_grade / old_wall:.0f} % of its wall "
              f"(sized for >= 33 %); streaming wall / old loop wall {wall / old_wall:.3f}")
    else:
        print(f"old loop not run: grading would be ~{100 * grade_s / (gen_s + grade_s):.0f} % of its wall "
              f"((2) / ((1) + (2)); sized for >= 33 %)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()

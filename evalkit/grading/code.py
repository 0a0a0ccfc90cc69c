"""Code grading: extract the program from the solution text, run it on every test in the sandbox, judge in the parent.

What it matches (LiveCodeBench's official grader, lcb_runner/evaluation/testing_util.py):
- stdin tests: the program's output and the expected output are compared line by line after `strip()` (whole text,
  then each line), equal line counts required; a line that differs as text still matches when every token of both
  lines parses as a Decimal and the token lists are equal.
- functional (LeetCode) tests: `Solution().<func_name>(*args)`, one JSON argument per input line; the return value
  (a tuple counts as a list) must equal the JSON expected value under Python `==`.
- the first failing test decides the verdict; later tests are not run (unless `full_detail`).
Codeforces problems run as plain scripts with their own time and memory limits; a problem with a checker
(`metadata["checker"]`, called as `checker.py input.txt correct_output.txt solution_output.txt`) is judged by the
checker, itself run in the sandbox, never next to the model's program.

Code extraction keeps only the solution part (after the last `</think>`) and takes its last closed fenced block
tagged python (else the last closed fenced block): a model that writes a draft and then a fix is graded on the fix.
LiveCodeBench's own extract_code keeps the first block; the staged grading suite carries already-extracted code, so
this choice does not affect agreement with its labels.

Statuses: accepted, wrong_answer, time_limit, memory_limit, runtime_error, compile_error (syntax), no_code. The
verdict is decided here, from the output and the measured resource use, never from the exit code alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Sequence

from evalkit.grading.sandbox import Isolation, Limits, RunRequest, RunResult, Sandbox, Scheduler
from evalkit.types import Problem, TestCase, Verdict

RESULT_MARK = "\x00EVALKIT-RESULT\x00"
MEMORY_MARK = "EVALKIT-MEMORY-ERROR"
COMPILE_MARK = "EVALKIT-COMPILE-ERROR"
COMPILE_EXIT = 3

LCB_TIME_LIMIT = 6.0  # seconds per test, the official grader's timeout
DEFAULT_MEMORY = 2 << 30
INTERPRETER_ALLOWANCE = 64 << 20  # address space the Python interpreter itself needs on top of a problem's limit

_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^[ \t]*```", re.S | re.M)


# ---- extraction ------------------------------------------------------------------------------------------------


def solution_part(text: str) -> str:
    """Only what follows the last `</think>`: code drafted while thinking is never graded."""
    return text.rsplit("</think>", 1)[1] if "</think>" in text else text


def extract_code(text: str) -> str | None:
    """The last closed ```python block of the solution part (or the last closed block of any language)."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(solution_part(text))]
    python = [code for lang, code in blocks if lang in ("python", "python3", "py")]
    chosen = python[-1] if python else (blocks[-1][1] if blocks else None)
    if chosen is None or not chosen.strip():
        return None
    return chosen.rstrip("\n") + "\n"


# ---- comparison (in the parent) ---------------------------------------------------------------------------------


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(tok) for tok in line.split()]
    except (InvalidOperation, ValueError):
        return None


def compare_stdout(got: str, expected: str) -> tuple[bool, str]:
    """LiveCodeBench's stdin comparison. Returns (match, reason when not)."""
    a, b = _stripped_lines(got), _stripped_lines(expected)
    if len(a) != len(b):
        return False, f"{len(a)} output lines, expected {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y:
            continue
        dx, dy = _decimals(x), _decimals(y)
        if dx is None or dy is None or dx != dy:
            return False, f"line {i + 1}: {_short(x)!r} != {_short(y)!r}"
    return True, ""


def compare_functional(got_json: str, expected_json: str) -> tuple[bool, str]:
    try:
        got = json.loads(got_json)
    except json.JSONDecodeError:
        return False, "return value is not JSON"
    expected = json.loads(expected_json)
    if got == expected:
        return True, ""
    return False, f"returned {_short(json.dumps(got))}, expected {_short(expected_json)}"


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n // 2] + "..." + text[-n // 2 :]


# ---- per-test judgement ---------------------------------------------------------------------------------------


@dataclass
class TestOutcome:
    status: str
    detail: str = ""
    cpu: float = 0.0


def resource_status(res: RunResult, limits: Limits) -> TestOutcome | None:
    """time_limit / memory_limit / runtime_error / compile_error from how the run ended, or None if it ran cleanly."""
    if res.wall_timeout:
        return TestOutcome("time_limit", f"killed after {res.wall_seconds:.1f}s wall clock", res.cpu_seconds)
    if res.cpu_seconds > limits.cpu_seconds:
        return TestOutcome("time_limit", f"{res.cpu_seconds:.2f}s CPU > {limits.cpu_seconds:g}s", res.cpu_seconds)
    if res.output_exceeded:
        return TestOutcome("runtime_error", f"output limit exceeded (> {limits.output_bytes} bytes)", res.cpu_seconds)
    if res.exit_code == COMPILE_EXIT and COMPILE_MARK in res.stderr:
        return TestOutcome("compile_error", _last_line(res.stderr), res.cpu_seconds)
    if MEMORY_MARK in res.stderr or "Cannot allocate memory" in res.stderr:
        return TestOutcome("memory_limit", f"out of memory (limit {limits.memory_bytes >> 20} MiB)", res.cpu_seconds)
    if res.signal is not None:
        from signal import Signals

        try:
            name = Signals(res.signal).name
        except ValueError:
            name = str(res.signal)
        if res.signal == 24:  # SIGXCPU: the CPU rlimit
            return TestOutcome("time_limit", f"CPU limit ({limits.cpu_seconds:g}s)", res.cpu_seconds)
        return TestOutcome("runtime_error", f"killed by {name}", res.cpu_seconds)
    if res.exit_code != 0:
        return TestOutcome("runtime_error", f"exit {res.exit_code}: {_last_line(res.stderr)}", res.cpu_seconds)
    return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return _short(lines[-1], 160) if lines else ""


# ---- problem-level configuration ------------------------------------------------------------------------------


def limits_for(problem: Problem, time_scale: float = 1.0) -> Limits:
    meta = problem.metadata
    tl = float(meta.get("time_limit") or LCB_TIME_LIMIT) * time_scale
    mem = meta.get("memory_limit")
    memory = int(mem) + INTERPRETER_ALLOWANCE if mem else DEFAULT_MEMORY
    return Limits(cpu_seconds=tl, memory_bytes=memory)


def _mode(problem: Problem, test: TestCase) -> str:
    if test.kind == "functional":
        return "lcb-functional"
    return "lcb-stdin" if problem.metadata.get("runner", "lcb") == "lcb" else "script"


@dataclass
class _Pending:
    problem: Problem
    code: str
    limits: Limits
    outcomes: dict[int, TestOutcome] = field(default_factory=dict)
    first_failure: int | None = None


class CodeGrader:
    """Grades (problem, solution text) pairs. Tests run in parallel sandboxes; the first failure stops a solution
    unless `full_detail` (every test runs and the detail lists each test's status)."""

    def __init__(self, workers: int = 2, isolation: Isolation | str = "auto", full_detail: bool = False,
                 time_scale: float = 1.0, sandbox: Sandbox | None = None, allow_unsandboxed: bool = False) -> None:
        self.sandbox = sandbox or Sandbox(isolation=isolation, workers=workers,  # type: ignore[arg-type]
                                          allow_unsandboxed=allow_unsandboxed)
        self._own_sandbox = sandbox is None
        self.full_detail = full_detail
        self.time_scale = time_scale

    @property
    def isolation(self) -> str:
        return self.sandbox.isolation

    def grade(self, items: Sequence[tuple[Problem, str]]) -> list[Verdict]:
        """Verdicts for (problem, solution text) pairs: the code is extracted from the solution part first."""
        return self.grade_programs([(p, extract_code(text)) for p, text in items])

    def grade_programs(self, items: Sequence[tuple[Problem, str | None]]) -> list[Verdict]:
        """Verdicts for (problem, program source) pairs; None means no code was found."""
        verdicts: list[Verdict | None] = [None] * len(items)
        pending: dict[int, _Pending] = {}
        requests: list[RunRequest] = []
        for i, (problem, code) in enumerate(items):
            if code is None or not code.strip():
                verdicts[i] = Verdict(False, "no_code", None, "no closed ```python block after </think>")
                continue
            if not problem.tests:
                verdicts[i] = Verdict(False, "grader_error", code, f"problem {problem.id} has no tests")
                continue
            p = pending[i] = _Pending(problem, code, limits_for(problem, self.time_scale))
            requests += [self._program_run(i, j, p, t) for j, t in enumerate(problem.tests)]

        def on_done(res: RunResult, sched: Scheduler) -> None:
            i, j, stage = res.request.tag
            p = pending[i]
            if res.cancelled:
                return
            test = p.problem.tests[j]
            outcome = self._judge_program(res, p, test) if stage == "program" else self._judge_checker(res)
            if outcome is None:  # ran cleanly and needs the checker
                sched.submit(self._checker_run(i, j, p, test, res), front=True)
                return
            p.outcomes[j] = outcome
            if outcome.status != "accepted" and (p.first_failure is None or j < p.first_failure):
                p.first_failure = j
                if not self.full_detail:
                    sched.cancel(i, after=j)

        if requests:
            # Breadth first: test j of every solution before test j + 1 of any. Parallel workers then mostly run
            # different solutions, so a slow or endless program overlaps with useful work instead of with its own
            # later tests, which its first failure would cancel anyway. One solution alone still runs its tests in
            # parallel.
            requests.sort(key=lambda r: (r.order, r.group))
            Scheduler(self.sandbox, on_done).run(requests)
        for i, p in pending.items():
            verdicts[i] = self._verdict(p)
        return [v for v in verdicts if v is not None]

    def _program_run(self, i: int, j: int, p: _Pending, test: TestCase) -> RunRequest:
        file_mode = p.problem.metadata.get("input_mode") == "file"
        files: dict[str, str | bytes] = {"prog.py": p.code, "stdin.txt": test.input}
        if file_mode:
            files["input.txt"] = test.input
        return RunRequest(
            files=files, mode=_mode(p.problem, test), func_name=p.problem.metadata.get("func_name"),
            stdin_file="stdin.txt", limits=p.limits, read_back=("output.txt",) if file_mode else (),
            group=i, order=j, tag=(i, j, "program"),
        )

    def _judge_program(self, res: RunResult, p: _Pending, test: TestCase) -> TestOutcome | None:
        bad = resource_status(res, p.limits)
        if bad is not None:
            return bad
        text = res.stdout.decode("utf-8", "replace")
        if test.kind == "functional":
            if RESULT_MARK not in text:
                return TestOutcome("runtime_error", "no return value reported", res.cpu_seconds)
            ok, why = compare_functional(text.rsplit(RESULT_MARK, 1)[1].strip(), test.output)
        else:
            if p.problem.metadata.get("input_mode") == "file":
                data = res.files.get("output.txt")
                text = data.decode("utf-8", "replace") if data is not None else text
            if p.problem.metadata.get("checker"):
                return None
            ok, why = compare_stdout(text, test.output)
        return TestOutcome("accepted" if ok else "wrong_answer", why, res.cpu_seconds)

    def _checker_run(self, i: int, j: int, p: _Pending, test: TestCase, res: RunResult) -> RunRequest:
        out = res.files.get("output.txt") if p.problem.metadata.get("input_mode") == "file" else res.stdout
        limits = Limits(cpu_seconds=30.0, memory_bytes=DEFAULT_MEMORY)
        return RunRequest(
            files={"prog.py": str(p.problem.metadata["checker"]), "input.txt": test.input,
                   "correct_output.txt": test.output, "solution_output.txt": out or b""},
            mode="script", argv=("input.txt", "correct_output.txt", "solution_output.txt"),
            limits=limits, group=i, order=j, tag=(i, j, "checker"),
        )

    def _judge_checker(self, res: RunResult) -> TestOutcome:
        if res.wall_timeout or res.signal is not None or res.exit_code not in (0, 1, 2):
            return TestOutcome("grader_error", f"checker failed: {_last_line(res.stderr) or res.exit_code}")
        first = (res.stdout.decode("utf-8", "replace").split() or [""])[0].lower()
        if res.exit_code != 0 or first in ("wrong", "no", "wa", "incorrect"):
            return TestOutcome("wrong_answer", "checker: " + _short(res.stdout.decode("utf-8", "replace").strip()))
        try:
            ok = float(first) >= 1.0 if first else True
        except ValueError:
            ok = True
        return TestOutcome("accepted" if ok else "wrong_answer", "" if ok else f"checker score {first}")

    def _verdict(self, p: _Pending) -> Verdict:
        n = len(p.problem.tests)
        cpu = max((o.cpu for o in p.outcomes.values()), default=0.0)
        per_test = ""
        if self.full_detail:
            per_test = " per-test: " + ",".join(p.outcomes[j].status if j in p.outcomes else "-" for j in range(n))
        if p.first_failure is None:
            return Verdict(True, "accepted", p.code, f"{n}/{n} tests passed, max CPU {cpu:.2f}s{per_test}")
        o = p.outcomes[p.first_failure]
        return Verdict(False, o.status, p.code,  # type: ignore[arg-type]
                       f"test {p.first_failure + 1}/{n}: {o.status}" + (f": {o.detail}" if o.detail else "") + per_test)

    def close(self) -> None:
        if self._own_sandbox:
            self.sandbox.close()

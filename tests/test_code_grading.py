"""Code extraction, official-style comparison, and the grader end to end on the real sandbox."""

from __future__ import annotations


import pytest

from evalkit.grading.code import CodeGrader, compare_functional, compare_stdout, extract_code
from evalkit.types import Problem
from evalkit.types import TestCase as Case


@pytest.fixture(scope="module")
def grader():
    g = CodeGrader(workers=2, allow_unsandboxed=True)  # our own programs: the verdicts, not the isolation, are tested here
    yield g
    g.close()


def fenced(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code}```"


# ---- extraction ----------------------------------------------------------------------------------------------


def test_extracts_last_python_block_of_the_solution_part_only():
    text = ("<think>try\n```python\nprint('draft in thinking')\n```\n</think>Here:\n```python\nprint(1)\n```\n"
            "Fixed:\n```python\nprint(2)\n```\nDone.")
    assert extract_code(text) == "print(2)\n"
    only_thinking = "<think>\n```python\nprint(1)\n```\n</think>No code here."
    assert extract_code(only_thinking) is None


def test_extraction_prefers_python_blocks_and_needs_a_closed_fence():
    assert extract_code("```python\nx = 1\n```\n```text\noutput\n```") == "x = 1\n"
    assert extract_code("```\nprint(3)\n```") == "print(3)\n"
    assert extract_code("```python\nprint(1)\n") is None  # cut off by the solution budget: no program
    assert extract_code("no code at all") is None


# ---- comparison ----------------------------------------------------------------------------------------------


def test_stdout_comparison_matches_the_official_rules():
    assert compare_stdout("1 2\n3\n", "1 2\n3")[0]
    assert compare_stdout("  1 2  \r\n3\n\n", "1 2\n3\n")[0]  # strip per line and overall
    assert compare_stdout("0.50\n", "0.5\n")[0]  # Decimal fallback
    assert compare_stdout("1e2\n", "100\n")[0]
    assert not compare_stdout("1  2\n", "1 2\n")[0] or compare_stdout("1  2\n", "1 2\n")[0]  # tokens via Decimal
    assert not compare_stdout("yes\n", "YES\n")[0]
    assert not compare_stdout("1\n2\n", "1\n")[0]  # line count differs
    assert not compare_stdout("50000000000000000\n", "50000000000000001\n")[0]  # exact, unlike float isclose
    assert not compare_stdout("1\n\n2\n", "1\n2\n")[0]  # an inner empty line is a line


def test_functional_comparison_is_by_value():
    assert compare_functional("[1, 2]", "[1, 2]")[0]
    assert compare_functional("2.0", "2")[0]  # Python == as officially
    assert compare_functional("true", "true")[0]
    assert not compare_functional("[[1, 2]]", "[[1, 2, 3]]")[0]
    assert not compare_functional('{"__evalkit_unequal__": "set"}', "[1]")[0]


# ---- the grader on the real sandbox --------------------------------------------------------------------------


def stdin_problem(pairs, runner="lcb", **meta) -> Problem:
    return Problem("p", "livecodebench", "code", "", tests=tuple(Case(i, o) for i, o in pairs),
                   metadata={"runner": runner, **meta})


def func_problem(func, pairs) -> Problem:
    return Problem("f", "livecodebench", "code", "", tests=tuple(Case(i, o, "functional") for i, o in pairs),
                   metadata={"runner": "lcb", "func_name": func})


def test_stdin_statuses(grader):
    p = stdin_problem([("3 4\n", "7\n"), ("10 5\n", "15\n")])
    items = [
        (p, fenced("a, b = map(int, input().split())\nprint(a + b)\n")),
        (p, fenced("a, b = map(int, input().split())\nprint(a * b)\n")),
        (p, fenced("a, b = map(int, input().split()\nprint(a + b)\n")),
        (p, fenced("raise ValueError('boom')\n")),
        (p, "I think the answer is 7."),
        (p, fenced("print(sqrt(49) and 7 if input() == '3 4' else 15)\n")),  # LiveCodeBench's star imports
    ]
    verdicts = grader.grade(items)
    assert [v.status for v in verdicts] == ["accepted", "wrong_answer", "compile_error", "runtime_error", "no_code", "accepted"]
    assert verdicts[0].correct and not any(v.correct for v in verdicts[1:5])
    assert "test 1/2" in verdicts[1].detail and "boom" in verdicts[3].detail


def test_lcb_mode_reproduces_official_quirks(grader):
    p = stdin_problem([("5\n", "5\n")])
    quirks = {
        # the official harness gives stdin as a StringIO: no .buffer, so this fails there and here
        "import sys\nprint(int(sys.stdin.buffer.readline()))\n": "runtime_error",
        # SystemExit ends the run normally; the output counts
        "import sys\nprint(input())\nsys.exit(1)\n": "accepted",
        # officially `open` is the real one bound by the star imports before stdin is patched, so open(0) does not
        # read the test input there either
        "print(open(0).read().strip())\n": "wrong_answer",
        # `if __name__ == '__main__':` at the end is unwrapped
        "def main():\n    print(input())\nif __name__ == '__main__':\n    main()\n": "accepted",
        # quit is disabled officially
        "print(input())\nquit()\n": "runtime_error",
    }
    verdicts = grader.grade_programs([(p, code) for code in quirks])
    assert [v.status for v in verdicts] == list(quirks.values()), [v.detail for v in verdicts]
    # the same buffer program is fine as a Codeforces-style script
    script = stdin_problem([("5\n", "5\n")], runner="script", time_limit=2.0)
    assert grader.grade_programs([(script, "import sys\nprint(int(sys.stdin.buffer.readline()))\n")])[0].correct


def test_functional_tests(grader):
    p = func_problem("twoSum", [("[2, 7, 11, 15]\n9", "[0, 1]"), ("[3, 3]\n6", "[0, 1]")])
    good = ("class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
            "        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n"
            "                return (seen[target - x], i)\n            seen[x] = i\n")
    wrong = good.replace("return (seen[target - x], i)", "return [i, seen[target - x]]")
    as_set = good.replace("return (seen[target - x], i)", "return {seen[target - x], i}")
    missing = "class Solution:\n    def other(self):\n        return 1\n"
    noisy = good.replace("seen = {}", "seen = {}\n        print('[0, 1]')")
    verdicts = grader.grade_programs([(p, good), (p, wrong), (p, as_set), (p, missing), (p, noisy)])
    assert [v.status for v in verdicts] == ["accepted", "wrong_answer", "wrong_answer", "runtime_error", "accepted"]


def test_stops_at_first_failure_unless_full_detail(grader):
    p = stdin_problem([(f"{i}\n", f"{i}\n") for i in range(6)])
    code = "x = int(input())\nprint(x if x != 2 else -1)\n"
    v = grader.grade_programs([(p, code)])[0]
    assert v.status == "wrong_answer" and v.detail.startswith("test 3/6")
    full = CodeGrader(workers=2, full_detail=True, sandbox=grader.sandbox)
    v = full.grade_programs([(p, code)])[0]
    assert "per-test: accepted,accepted,wrong_answer,accepted,accepted,accepted" in v.detail


def test_codeforces_limits_checker_and_file_io(grader):
    checker = (
        "import sys\ninp, correct, got = (open(f).read().split() for f in sys.argv[1:4])\n"
        "n = int(inp[0])\nvals = list(map(int, got))\n"
        "print(1 if len(vals) == 2 and sum(vals) == n else 0)\n"
    )
    p = Problem("1_A", "codeforces", "code", "", tests=(Case("10\n", "3 7\n"), Case("4\n", "2 2\n")),
                metadata={"runner": "script", "time_limit": 1.0, "memory_limit": 256 << 20, "checker": checker})
    verdicts = grader.grade_programs([
        (p, "n = int(input())\nprint(1, n - 1)\n"),  # another valid answer: the checker accepts it
        (p, "n = int(input())\nprint(1, n)\n"),
        (p, "n = int(input())\nwhile True:\n    n += 1\n"),
    ])
    assert [v.status for v in verdicts] == ["accepted", "wrong_answer", "time_limit"]
    files = Problem("2_B", "codeforces", "code", "", tests=(Case("21\n", "42\n"),),
                    metadata={"runner": "script", "time_limit": 1.0, "memory_limit": 256 << 20, "input_mode": "file"})
    code = "n = int(open('input.txt').read())\nopen('output.txt', 'w').write(str(2 * n))\n"
    assert grader.grade_programs([(files, code)])[0].status == "accepted"
    link = "import os\nos.symlink('/etc/passwd', 'output.txt')\n"  # the parent must not follow it
    assert grader.grade_programs([(files, link)])[0].status == "wrong_answer"


def test_memory_limit_is_the_problems_own(grader):
    small = Problem("m", "codeforces", "code", "", tests=(Case("1\n", "1\n"),),
                    metadata={"runner": "script", "time_limit": 2.0, "memory_limit": 64 << 20})
    code = "x = bytearray(200 << 20)\nprint(1)\n"
    assert grader.grade_programs([(small, code)])[0].status == "memory_limit"
    big = Problem("m2", "codeforces", "code", "", tests=small.tests,
                  metadata={"runner": "script", "time_limit": 2.0, "memory_limit": 512 << 20})
    assert grader.grade_programs([(big, code)])[0].status == "accepted"


def test_real_codeforces_problem_from_staged_data(grader, data_dir):
    from evalkit.benchmarks import load_problems

    problems, _ = load_problems("codeforces", str(data_dir))
    p = next(p for p in problems if p.id == "1575_D")  # Divisible by Twenty-Five: 74 tests, TL 2 s
    assert len(p.tests) == 74 and p.metadata["time_limit"] == 2.0
    solution = (
        "s = input().strip()\nn = len(s)\n"
        "def count(t):\n"
        "    if n == 1:\n        return 1 if t in ('0', '_') else 0\n"
        "    total = 0\n"
        "    for end in ('00', '25', '50', '75'):\n"
        "        u = list(t)\n        ok = True\n"
        "        for k in range(2):\n"
        "            i = n - 2 + k\n"
        "            if u[i] == '_':\n                u[i] = end[k]\n"
        "            elif u[i] != end[k]:\n                ok = False\n"
        "        if not ok or u[0] == '0':\n            continue\n"
        "        ways = 1\n"
        "        for i in range(n - 2):\n"
        "            if u[i] == '_':\n                ways *= 9 if i == 0 else 10\n"
        "        total += ways\n"
        "    return total\n"
        "print(sum(count(s.replace('X', d)) for d in '0123456789') if 'X' in s else count(s))\n"
    )
    leading_zeros_allowed = solution.replace("if not ok or u[0] == '0':", "if not ok:")
    verdicts = grader.grade_programs([(p, solution), (p, leading_zeros_allowed)])
    assert [v.status for v in verdicts] == ["accepted", "wrong_answer"], [v.detail for v in verdicts]

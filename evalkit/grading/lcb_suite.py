"""The staged LiveCodeBench grading suite: solutions labelled by the official grader, and which labels the staged
tests can reproduce (shared data grading-suites/code_solutions_livecodebench.jsonl; see its SOURCE.md).

A label is reproducible when the staged tests contain what decided it: every row of a problem staged with its
private tests; a pass label (always consistent with the public tests); a fail label whose first failing test is a
public one. Not reproducible: fail labels decided by a private test that is not staged, and the rows whose label
came from a grader without `sortedcontainers`. Fail rows with no recorded failing input are "undetermined".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evalkit.benchmarks.base import read_jsonl
from evalkit.benchmarks.livecodebench import to_problem
from evalkit.types import Problem

SUITE = "grading-suites/code_solutions_livecodebench.jsonl"
Reproducible = Literal["yes", "no", "undetermined"]


@dataclass(frozen=True)
class SuiteRow:
    problem: Problem
    code: str
    expected_pass: bool
    reproducible: Reproducible
    why: str


def reproducibility(row: dict) -> tuple[Reproducible, str]:
    if row.get("label_caveat"):
        return "no", "label from a grader environment missing a module"
    if "public_tests_only" not in row["problem_file"]:
        return "yes", "problem staged with its private tests"
    if row["expected_pass"]:
        return "yes", "pass label (consistent with the public tests)"
    if row.get("fails_on_a_public_test") is True:
        return "yes", "first failing test is public"
    if row.get("fails_on_a_public_test") is False:
        return "no", "first failing test is private (not staged)"
    return "undetermined", "no recorded failing input"


def load_suite(data_dir: Path) -> list[SuiteRow]:
    problems: dict[tuple[str, str], Problem] = {}
    out = []
    for row in read_jsonl(data_dir / SUITE):
        key = (row["problem_file"], row["question_id"])
        if key not in problems:
            for i, r in enumerate(read_jsonl(data_dir / row["problem_file"])):
                problems[(row["problem_file"], str(r["question_id"]))] = to_problem(r, i)
        rep, why = reproducibility(row)
        out.append(SuiteRow(problems[key], row["code"], bool(row["expected_pass"]), rep, why))
    return out

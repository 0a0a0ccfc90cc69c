"""The run directory: run.json, append-only JSONL files, resume.

    results/<name>/
      run.json           resolved spec, versions, model and dataset identity
      problems.jsonl     the run's problems: gold answers, tests' hashes, metadata (evalkit/rundir.py)
      thinking.jsonl     shared phase-1 passes (token ids), so a kill during the solution phase redoes nothing
      generations.jsonl  one line per benchmark x problem x sample x strategy x budget
      grades.jsonl       one verdict per generation key
      summary.csv        per benchmark x strategy x budget
      samples.parquet    generations joined with verdicts and problem metadata (evalkit/frames.py)
      plots/

Rows are appended and flushed (fsync) per batch. A kill can leave at most a torn last line; opening the file
drops it (and truncates it away), and rows are keyed, so a rerun neither loses nor duplicates anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from evalkit.errors import EvalkitError
from evalkit.types import Generation, GradeRecord

RUN_JSON = "run.json"
THINKING = "thinking.jsonl"
GENERATIONS = "generations.jsonl"
GRADES = "grades.jsonl"
SUMMARY = "summary.csv"


def repair_jsonl(path: Path) -> None:
    """Cut a torn final line (a write interrupted by a kill) so the next append starts on a clean line."""
    if not path.exists():
        return
    with open(path, "rb+") as f:
        data = f.read()
        if not data or data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        f.truncate(cut)


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.endswith("\n"):
                return  # torn last line: written by a killed run, redone on resume
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                raise EvalkitError(f"{path}:{lineno} is corrupt: delete that line and rerun to redo it") from None


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in rows]
    if not lines:
        return 0
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(lines))
        f.flush()
        os.fsync(f.fileno())
    return len(lines)


class RunStore:
    """Reads and appends the files of one run directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def plots_dir(self) -> Path:
        return self.root / "plots"

    def path(self, name: str) -> Path:
        return self.root / name

    # run.json -------------------------------------------------------------------------------------------
    def read_run(self) -> dict[str, Any]:
        p = self.path(RUN_JSON)
        if not p.exists():
            raise EvalkitError(f"{self.root} is not an evalkit run directory (no run.json): pass a results/<name> folder")
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError:
            raise EvalkitError(f"{p} is not valid JSON: restore it or start a new run with another --name") from None

    def write_run(self, info: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path(RUN_JSON + ".tmp")
        tmp.write_text(json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, self.path(RUN_JSON))

    # generations / grades -------------------------------------------------------------------------------
    def open_for_append(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for name in (THINKING, GENERATIONS, GRADES):
            repair_jsonl(self.path(name))

    def generations(self) -> list[Generation]:
        seen: dict[tuple, Generation] = {}
        for row in iter_jsonl(self.path(GENERATIONS)):
            g = Generation.from_json(row)
            seen.setdefault(g.key, g)  # first write wins; later duplicates cannot happen but are harmless
        return list(seen.values())

    def grades(self) -> dict[tuple, GradeRecord]:
        out: dict[tuple, GradeRecord] = {}
        for row in iter_jsonl(self.path(GRADES)):
            rec = GradeRecord(**row)
            out[rec.key] = rec  # a regrade appends; the last verdict wins
        return out

    def thinking(self) -> list[dict[str, Any]]:
        return list(iter_jsonl(self.path(THINKING)))

    def append_generations(self, gens: Iterable[Generation]) -> int:
        return append_jsonl(self.path(GENERATIONS), (g.to_json() for g in gens))

    def append_grades(self, recs: Iterable[GradeRecord]) -> int:
        return append_jsonl(self.path(GRADES), (r.__dict__ for r in recs))

    def append_thinking(self, rows: Iterable[dict[str, Any]]) -> int:
        return append_jsonl(self.path(THINKING), rows)

"""A run directory's files as pandas DataFrames, and samples.parquet: the tables behind `evalkit.load_run`.

`samples_frame` has one row per generation (generations.jsonl), joined with its verdict (grades.jsonl; the last
one wins, as everywhere) and its problem's kind, gold and metadata (problems.jsonl). pandas is imported inside
the functions: the runner imports this module, and `import evalkit` must stay light.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import EvalkitError
from evalkit.rundir import read_problems
from evalkit.store import SUMMARY, THINKING, RunStore, iter_jsonl
from evalkit.types import Generation

if TYPE_CHECKING:
    import pandas as pd

SAMPLES_PARQUET = "samples.parquet"
# Generation fields left out of `samples`: per-segment offload spans and free-form extras have no flat shape.
_NESTED = ("segments", "extra")
_GRADE = ("correct", "status", "extracted", "detail")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise EvalkitError("the Python API needs pandas: pip install pandas pyarrow") from None
    return pandas


def samples_frame(run_dir: Path) -> "pd.DataFrame":
    """One row per generation, with its verdict (None where ungraded) and its problem's metadata as columns."""
    pd = _pandas()
    store = RunStore(Path(run_dir))
    grades = store.grades()
    problems = read_problems(store.root)
    names = [f.name for f in fields(Generation) if f.name not in _NESTED]
    rows = []
    for g in store.generations():
        row: dict[str, Any] = {n: getattr(g, n) for n in names}
        row["total_tokens"] = g.total_tokens
        rec = grades.get(g.key)
        for n in _GRADE:
            row[n] = getattr(rec, n) if rec is not None else None
        prob = problems.get((g.benchmark, g.problem_id))
        if prob is not None:
            row["kind"] = prob.get("kind")
            row["gold"] = prob.get("gold")
            for k, v in (prob.get("metadata") or {}).items():
                row[k if k not in row else f"problem_{k}"] = v  # metadata never hides a sample's own column
        rows.append(row)
    columns = names + ["total_tokens", *_GRADE]
    return pd.DataFrame(rows, columns=None if rows else columns)


def summary_frame(run_dir: Path) -> "pd.DataFrame":
    """summary.csv as written (pass@k unpacked into pass@2, pass@4 ... columns); computed if it is not there yet."""
    pd = _pandas()
    path = Path(run_dir) / SUMMARY
    if path.exists():
        return pd.read_csv(path, keep_default_na=True, dtype={"budget": str})
    from evalkit.summary import summarize, summary_records

    store = RunStore(Path(run_dir))
    return pd.DataFrame(summary_records(summarize(store.generations(), store.grades())))


def thinking_frame(run_dir: Path) -> "pd.DataFrame":
    """thinking.jsonl: one row per shared thinking pass (empty when thinking was not shared)."""
    return _pandas().DataFrame(list(iter_jsonl(Path(run_dir) / THINKING)))


def problems_frame(run_dir: Path) -> "pd.DataFrame":
    """problems.jsonl: one row per problem, metadata as columns."""
    rows = []
    for row in read_problems(Path(run_dir)).values():
        flat = {k: v for k, v in row.items() if k != "metadata"}
        for k, v in (row.get("metadata") or {}).items():
            flat[k if k not in flat else f"meta_{k}"] = v
        rows.append(flat)
    return _pandas().DataFrame(rows)


# samples.parquet -----------------------------------------------------------------------------------------------

def write_samples_parquet(run_dir: Path) -> Path:
    """samples.parquet beside the JSONL files: the `samples` table for tools that read parquet (pyarrow)."""
    frame = samples_frame(Path(run_dir))
    for col in frame.columns:
        # Metadata of different benchmarks may share a key with different types (arith difficulty 1 vs
        # LiveCodeBench "easy"); parquet columns hold one type, so such a column is written as text.
        if frame[col].dtype == object:
            kinds = {type(v) for v in frame[col] if v is not None and v == v}
            if len(kinds) > 1 or (kinds and not kinds <= {str, bool, int, float}):
                frame[col] = [None if v is None else str(v) for v in frame[col]]
    path = Path(run_dir) / SAMPLES_PARQUET
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path

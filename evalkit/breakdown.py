"""`--by FIELD` for `evalkit plot` and `evalkit report`: a run's cells split into difficulty groups on request.

`plot` reads summary_by_<field>.csv, writing it first if the run ended without problem metadata. `report` splits
each cell's per-problem outcomes by group, renaming the benchmark "math500 level=3", so every paired statistic and
verdict is computed per group by the unchanged report code. Groups come from the candidate run's problems (a
baseline file holds no metadata; the report has already checked both runs ask the same problems).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from evalkit.difficulty import FIELDS, PROBLEMS_JSONL, Metadata, fields_present, group_value, problem_metadata
from evalkit.errors import EvalkitError
from evalkit.outcomes import CellOutcomes, RunOutcomes
from evalkit.store import RunStore
from evalkit.summary import read_summary, summarize_by, summary_by_name, write_summary_by


def check_field(field: str) -> None:
    if field not in FIELDS:
        raise EvalkitError(f"--by {field!r} is no difficulty field: use one of {', '.join(FIELDS)}")


def _metadata_with(run: Path, field: str, keys: set[tuple[str, str]]) -> Metadata:
    """The run's problem metadata, checked to give at least one of `keys` (benchmark, problem id) a group."""
    meta = problem_metadata(run)
    if not any(group_value(field, b, meta[(b, pid)]) is not None for b, pid in keys if (b, pid) in meta):
        present = ", ".join(fields_present({k: meta[k] for k in keys if k in meta})) or "none"
        raise EvalkitError(f"no problem of {run} has a {field} (fields it has: {present}): pick one of those with --by, "
                           f"or add {PROBLEMS_JSONL} with each problem's metadata to the run")
    return meta


def summary_rows_by(run: Path, field: str) -> list[dict[str, str]]:
    """summary_by_<field>.csv of a run directory, written from its rows and problem metadata when missing."""
    check_field(field)
    path = run / summary_by_name(field)
    if not path.exists():
        store = RunStore(run)
        store.read_run()  # a folder that is no run fails here with the fix
        gens = store.generations()
        meta = _metadata_with(run, field, {(g.benchmark, g.problem_id) for g in gens})
        write_summary_by(summarize_by(gens, store.grades(), field, meta), field, path)
    return read_summary(path)


def group_label(benchmark: str, field: str, value: str) -> str:
    return f"{benchmark} {field}={value}"


def split_outcomes(outcomes: RunOutcomes, field: str, meta: Metadata) -> RunOutcomes:
    """One cell per cell x group; problems without a group are left out. Identity is copied to each group's name."""
    cells: dict[tuple[str, str, str], CellOutcomes] = {}
    names: dict[str, str] = {}
    for c in outcomes.cells.values():
        groups: dict[str, dict] = {}
        for pid, o in c.problems.items():
            value = group_value(field, c.benchmark, meta.get((c.benchmark, pid), {}))
            if value is not None:
                groups.setdefault(value, {})[pid] = o
        for value, probs in groups.items():
            name = group_label(c.benchmark, field, value)
            names[name] = c.benchmark
            cell = replace(c, benchmark=name, problems=probs)
            cells[cell.key] = cell
    ident = outcomes.identity
    identity = replace(
        ident,
        datasets={n: ident.datasets[b] for n, b in names.items() if b in ident.datasets},
        prompts={n: ident.prompts[b] for n, b in names.items() if b in ident.prompts},
    )
    return replace(outcomes, cells=cells, identity=identity)


def split_pair(base: RunOutcomes, cand: RunOutcomes, field: str) -> tuple[RunOutcomes, RunOutcomes]:
    """Both sides split with the metadata of whichever is a run directory (the candidate first)."""
    check_field(field)
    run = next((Path(o.source) for o in (cand, base) if Path(o.source).is_dir()), None)
    if run is None:
        raise EvalkitError(f"--by {field} needs problem metadata: pass a run directory (results/<name>) on one side, "
                           "not two baseline files")
    keys = {(c.benchmark, pid) for o in (base, cand) for c in o.cells.values() for pid in c.problems}
    meta = _metadata_with(run, field, keys)
    return split_outcomes(base, field, meta), split_outcomes(cand, field, meta)

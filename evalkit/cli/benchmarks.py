"""`evalkit benchmarks`: the benchmarks evalkit knows (built in and cards), problem counts, data sources."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from evalkit.cli.app import out
from evalkit.cli.output import print_json


def list_benchmarks(
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EVALKIT_DATA_DIR", help="Folder with local benchmark files."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON on stdout."),
) -> None:
    """List the benchmarks evalkit knows, with problem counts and where their data comes from."""
    from evalkit.benchmarks import REGISTRY
    from evalkit.benchmarks.base import data_dir_from, local_file, read_jsonl

    directory = data_dir_from(data_dir)
    t = Table(title="evalkit benchmarks")
    for col in ("name", "kind", "problems", "source", "description"):
        t.add_column(col)
    records = []
    for b in REGISTRY.values():
        if b.generate is not None:
            count, source = str(b.options.get("count")), "generated (no download)"
        elif directory is not None and local_file(b, directory) is not None:
            path = local_file(b, directory)
            count, source = str(len(read_jsonl(path))), str(path)
        else:
            count = str(b.expected_count or "?")
            source = f"hub {b.hub.repo}@{b.hub.revision[:8]}" if b.hub else "local files only (--data-dir)"
        t.add_row(b.name, b.kind, count, source, b.description)
        records.append({"name": b.name, "kind": b.kind, "problems": int(count) if count.isdigit() else None,
                        "source": source, "description": b.description})
    if as_json:
        print_json(records)
        return
    out.print(t)

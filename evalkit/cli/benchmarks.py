"""`evalkit benchmarks`: the benchmarks evalkit knows (built in and cards), problem counts, data sources."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from evalkit.cli.app import out
from evalkit.cli.command import takes
from evalkit.cli.output import print_json


@takes("data_dir", "benchmark_card", help={"data_dir": "Folder with local benchmark files.",
                                          "benchmark_card": "Also list these cards (cards in $EVALKIT_CARDS and "
                                                            "./benchmark-cards/ are listed anyway)."})
def list_benchmarks(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON on stdout."),
    presets: bool = typer.Option(False, "--presets", help="List the presets for --preset instead."),
    *, data_dir: Optional[str], benchmark_card: list[str],
) -> None:
    """List the benchmarks evalkit knows (built in and cards), with problem counts and where their data comes from."""
    from evalkit.benchmarks import REGISTRY, discover_cards, load_problems, register_cards
    from evalkit.benchmarks.base import data_dir_from, local_file, read_jsonl
    from evalkit.errors import EvalkitError

    if presets:
        _list_presets(as_json)
        return
    register_cards(benchmark_card)
    discover_cards()
    directory = data_dir_from(data_dir)
    t = Table(title="evalkit benchmarks")
    for col in ("name", "kind", "problems", "source", "description"):
        t.add_column(col)
    records = []
    for b in REGISTRY.values():
        if b.card:
            try:
                count = str(len(load_problems(b.name, None, None, {}, {})[0]))
            except EvalkitError:
                count = "?"
            source = f"card {b.card}"
        elif b.generate is not None:
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


def _list_presets(as_json: bool) -> None:
    """Each preset with the first line of its header comment (what it reproduces, and its source)."""
    from evalkit.cli.options import PRESETS, preset_names

    rows = []
    for name in preset_names():
        text = (PRESETS / f"{name}.toml").read_text(encoding="utf-8")
        lines = []
        for line in text.splitlines():
            if not line.startswith("#") or line.startswith("# -"):
                break
            lines.append(line.lstrip("# ").strip())
        head = " ".join(lines).split(". ")[0].rstrip(".") + "."  # the first sentence: what, and whose
        rows.append({"name": name, "file": str(PRESETS / f"{name}.toml"), "source": head})
    if as_json:
        print_json(rows)
        return
    t = Table(title="evalkit presets (evalkit sweep --preset NAME)")
    t.add_column("name", no_wrap=True)
    t.add_column("reproduces")
    for r in rows:
        t.add_row(r["name"], r["source"])
    out.print(t)

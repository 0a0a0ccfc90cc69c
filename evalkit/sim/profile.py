"""Cost profiles: per model, prefill and decode speed (tokens/s) and how much decoding slows with context.

A profile is a named set of model entries, shipped (see `profiles`, which also loads one by name or file) or read
from a JSON file written by `evalkit calibrate`. Several profiles can be merged, so a small model calibrated on one
run and a big model calibrated on another can be simulated together.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from evalkit.errors import EvalkitError


@dataclass(frozen=True)
class ModelCost:
    """Speed of one model on one machine, for one sequence at a time (latency, not throughput)."""

    prefill_tps: float  # prompt tokens processed per second
    decode_tps: float  # generated tokens per second at (near) empty context
    # Extra decode time per token, as a fraction of the base time, per 1,000 tokens of context: 0.1 means a
    # token at context 4,000 takes 1.4x as long as one at context 0. 0 = independent of context.
    decode_slowdown_per_1k: float = 0.0
    # Fixed seconds each request costs beyond its prefill and decode (scheduling, the first step's setup, handing
    # the result back), charged once per segment. Negligible on a GPU against thousands of tokens; on a CPU with
    # short spans it is a large share of a segment. 0 = not measured (SplitReason's simulator has none).
    request_overhead_s: float = 0.0
    # The engine's prefix cache keeps whole blocks of this many tokens (vLLM: 16 on a GPU, 128 on a CPU), so a
    # model taking the sequence back recomputes from the end of its last full block, not from the last token it
    # saw. 1 = token-exact reuse (SplitReason's simulator).
    prefix_block_tokens: int = 1

    def __post_init__(self) -> None:
        for name in ("prefill_tps", "decode_tps"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise EvalkitError(f"cost profile {name} must be a positive number of tokens/s (got {v!r})")
        s = self.decode_slowdown_per_1k
        if not (isinstance(s, (int, float)) and math.isfinite(s) and s >= 0):
            raise EvalkitError(f"cost profile decode_slowdown_per_1k must be >= 0 (got {s!r})")
        o = self.request_overhead_s
        if not (isinstance(o, (int, float)) and math.isfinite(o) and o >= 0):
            raise EvalkitError(f"cost profile request_overhead_s must be >= 0 seconds (got {o!r})")
        b = self.prefix_block_tokens
        if not (isinstance(b, int) and b >= 1):
            raise EvalkitError(f"cost profile prefix_block_tokens must be a whole number >= 1 (got {b!r})")


@dataclass(frozen=True)
class CostProfile:
    name: str
    models: dict[str, ModelCost]
    hardware: str = ""
    source: str = ""
    default_small: str | None = None  # entries to use when the user names none
    default_big: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # calibration measurements, notes

    def cost(self, key: str, role: str) -> ModelCost:
        if key not in self.models:
            raise EvalkitError(
                f"profile {self.name} has no entry {key!r} for the {role} model: pass --{role}-cost with one of "
                f"{', '.join(sorted(self.models))}"
            )
        return self.models[key]

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["models"] = {k: asdict(v) for k, v in self.models.items()}
        return row

    @classmethod
    def from_json(cls, row: Any, origin: str) -> "CostProfile":
        if not isinstance(row, dict) or not isinstance(row.get("models"), dict) or not row["models"]:
            raise EvalkitError(f"{origin} is not a cost profile (needs a non-empty \"models\" object): write one with `evalkit calibrate`")
        models = {}
        for key, entry in row["models"].items():
            if not isinstance(entry, dict) or "prefill_tps" not in entry or "decode_tps" not in entry:
                raise EvalkitError(f"{origin}: model {key!r} needs prefill_tps and decode_tps (tokens/s)")
            models[str(key)] = ModelCost(
                float(entry["prefill_tps"]), float(entry["decode_tps"]), float(entry.get("decode_slowdown_per_1k", 0.0)),
                float(entry.get("request_overhead_s", 0.0)), int(entry.get("prefix_block_tokens", 1)),
            )
        return cls(
            name=str(row.get("name") or Path(origin).stem), models=models, hardware=str(row.get("hardware", "")),
            source=str(row.get("source", "")), default_small=row.get("default_small"), default_big=row.get("default_big"),
            extra=dict(row.get("extra") or {}),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)


def merge_profiles(profiles: Sequence[CostProfile]) -> CostProfile:
    """One profile holding every entry; a later profile's entry wins over an earlier one with the same key."""
    if not profiles:
        raise EvalkitError("no cost profile given: pass --profile splitreason-a6000 or a calibrated JSON file")
    if len(profiles) == 1:
        return profiles[0]
    models: dict[str, ModelCost] = {}
    for p in profiles:
        models.update(p.models)
    first = profiles[0]
    return CostProfile(
        name="+".join(p.name for p in profiles), models=models,
        hardware="; ".join(sorted({p.hardware for p in profiles if p.hardware})),
        source="; ".join(p.source for p in profiles if p.source),
        default_small=next((p.default_small for p in profiles if p.default_small), first.default_small),
        default_big=next((p.default_big for p in profiles if p.default_big), first.default_big),
    )


@dataclass(frozen=True)
class CostPair:
    """The two entries a simulation uses, with the keys they came from."""

    profile: str
    small_key: str
    big_key: str
    small: ModelCost
    big: ModelCost


def pick_costs(profile: CostProfile, small_key: str | None, big_key: str | None,
               small_model: str | None = None, big_model: str | None = None) -> CostPair:
    """Entries for the two roles: the keys asked for, else the profile's defaults, else the run's model names."""

    def choose(asked: str | None, default: str | None, model: str | None, role: str) -> str:
        if asked:
            return asked
        if model and model in profile.models:
            return model
        if default:
            return default
        if len(profile.models) == 1:
            return next(iter(profile.models))
        raise EvalkitError(
            f"profile {profile.name} does not say which entry is the {role} model: pass --{role}-cost with one of "
            f"{', '.join(sorted(profile.models))}"
        )

    s = choose(small_key, profile.default_small, small_model, "small")
    b = choose(big_key, profile.default_big, big_model, "big")
    return CostPair(profile.name, s, b, profile.cost(s, "small"), profile.cost(b, "big"))

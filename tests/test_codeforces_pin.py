"""The codeforces hub source is a named revision that a user can pin to a commit without editing evalkit."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOW = "from evalkit.benchmarks.codeforces import BENCHMARK as b; print(b.hub.repo, b.hub.revision)"


def test_codeforces_revision_defaults_to_the_constant_and_takes_the_override():
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    plain = subprocess.run([sys.executable, "-c", SHOW], capture_output=True, text=True, env=env, check=True)
    from evalkit.benchmarks.codeforces import DEFAULT_REVISION

    assert plain.stdout.split() == ["open-r1/codeforces", DEFAULT_REVISION]
    sha = "0123456789abcdef0123456789abcdef01234567"
    pinned = subprocess.run([sys.executable, "-c", SHOW], capture_output=True, text=True, check=True,
                            env={**env, "EVALKIT_CODEFORCES_REVISION": sha})
    assert pinned.stdout.split() == ["open-r1/codeforces", sha]

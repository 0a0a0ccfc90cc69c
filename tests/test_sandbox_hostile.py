"""Hostile programs in the real sandbox: each gets the right status and leaves no trace on the host.

Runs the programs as Codeforces-style scripts (the mode with the fewest Python-level guards), so what holds here is
the OS-level sandbox. CI runs as root, where namespace isolation must be available.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from evalkit.grading.code import CodeGrader
from evalkit.types import Problem
from evalkit.types import TestCase as Case


def _problem(expected: str, tl: float = 1.0, mem: int = 256 << 20, tests: int = 1) -> Problem:
    return Problem("hostile", "codeforces", "code", "", tests=tuple(Case("5\n", expected) for _ in range(tests)),
                   metadata={"runner": "script", "time_limit": tl, "memory_limit": mem})


@pytest.fixture(scope="module")
def grader():
    g = CodeGrader(workers=2, allow_unsandboxed=True)  # so that a machine without isolation skips, not errors
    if os.geteuid() == 0:
        assert g.isolation == "namespaces", "running as root, namespace isolation must work"
    if g.isolation == "none":
        g.close()
        pytest.skip("no namespace isolation on this machine (evalkit refuses to grade code here without --allow-unsandboxed)")
    yield g
    g.close()


def _marked_processes(marker: str) -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{d}/cmdline").read_bytes():
                    pids.append(int(d))
            except OSError:
                pass
    return pids


def grade(grader: CodeGrader, code: str, problem: Problem) -> tuple[str, str, float]:
    t0 = time.monotonic()
    v = grader.grade_programs([(problem, code)])[0]
    return v.status, v.detail, time.monotonic() - t0


def test_infinite_loop_is_time_limit(grader):
    status, detail, took = grade(grader, "while True:\n    pass\n", _problem("5"))
    assert status == "time_limit", detail
    assert took < 15


def test_sleep_is_time_limit_by_wall_clock(grader):
    status, detail, took = grade(grader, "import time\ntime.sleep(600)\nprint(5)\n", _problem("5"))
    assert status == "time_limit" and "wall" in detail, detail
    assert took < 15


def test_fork_bomb_is_contained(grader):
    marker = f"bomb{uuid.uuid4().hex[:8]}"
    code = (f"# {marker}\nimport os, sys\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n")
    before = len(os.listdir("/proc"))
    status, detail, took = grade(grader, code, _problem("5"))
    assert status == "time_limit", detail
    time.sleep(0.5)
    assert len([d for d in os.listdir("/proc") if d.isdigit()]) < before + 50  # nothing kept forking on the host
    ours = range(grader.sandbox.uid_base, grader.sandbox.uid_base + grader.sandbox.workers)  # this grader's uids
    pids = [p for p in (int(d) for d in os.listdir("/proc") if d.isdigit()) if _uid_of(p) in ours]
    assert pids == [], f"sandbox processes survived: {pids}"


def _uid_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def test_memory_bombs_are_memory_limit(grader):
    status, detail, _ = grade(grader, "x = bytearray(1 << 36)\nprint(5)\n", _problem("5"))
    assert status == "memory_limit", detail
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(50 << 20))\n"
    status, detail, _ = grade(grader, code, _problem("5"))
    assert status == "memory_limit", detail


def test_child_left_running_after_exit_is_killed(grader):
    marker = f"orphan{uuid.uuid4().hex[:8]}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)  # {marker}'], start_new_session=True,"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(5)\n"
    )
    status, detail, took = grade(grader, code, _problem("5"))
    assert status == "accepted", detail  # the answer is right; the orphan must still not survive
    assert took < 10
    time.sleep(0.3)
    assert _marked_processes(marker) == []


def test_writing_outside_the_work_directory_fails(grader, tmp_path):
    os.chmod(tmp_path, 0o777)  # even a world-writable host directory must be out of reach
    targets = [tmp_path / "escape.txt", Path("/tmp") / f"evalkit-escape-{uuid.uuid4().hex}", Path("/escape.txt")]
    code = "\n".join(f"open({str(t)!r}, 'w').write('x')" for t in targets) + "\nprint(5)\n"
    status, detail, _ = grade(grader, code, _problem("5"))
    assert status == "runtime_error", detail
    assert not any(t.exists() for t in targets)
    ok_code = "with open('scratch.txt', 'w') as f:\n    f.write('5')\nprint(open('scratch.txt').read())\n"
    assert grade(grader, ok_code, _problem("5"))[0] == "accepted"  # its own directory is writable


def test_network_is_unreachable(grader):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.1)
    port = server.getsockname()[1]
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\nprint(5)\n"
    status, detail, _ = grade(grader, code, _problem("5"))
    assert status == "runtime_error", detail
    with pytest.raises(OSError):  # socket.timeout is an OSError: nobody connected
        server.accept()
    server.close()
    code = "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)\nprint(5)\n"
    assert grade(grader, code, _problem("5"))[0] == "runtime_error"


def test_printing_gigabytes_stops_at_the_output_limit(grader):
    code = "import sys\nblock = 'x' * 65536\nwhile True:\n    sys.stdout.write(block)\n"
    status, detail, took = grade(grader, code, _problem("5", tl=20.0))
    assert status == "runtime_error" and "output limit" in detail, detail
    assert took < 20


def test_expected_output_cannot_be_read(grader, tmp_path):
    secret = uuid.uuid4().hex
    answer_file = tmp_path / "answers.txt"  # as if the dataset's expected outputs sat on the grading machine
    answer_file.write_text(secret)
    os.chmod(tmp_path, 0o755)
    os.chmod(answer_file, 0o644)
    code = (
        "import os\nfound = ''\n"
        f"for path in [{str(answer_file)!r}]:\n"
        "    try:\n        found = open(path).read()\n    except OSError:\n        pass\n"
        "for root, dirs, files in os.walk('/'):\n"
        "    if root.startswith(('/proc', '/usr', '/sys')):\n        dirs[:] = []\n        continue\n"
        "    for name in files:\n"
        "        try:\n            text = open(os.path.join(root, name), errors='ignore').read(1 << 16)\n"
        "        except OSError:\n            continue\n"
        f"        if len(text) == 32 and text.isalnum():\n            found = found or text\n"
        "print(found)\n"
    )
    status, detail, _ = grade(grader, code, _problem(secret, tl=20.0))
    assert status == "wrong_answer", detail


def test_exiting_zero_early_is_not_accepted(grader):
    for code in ("import os\nos._exit(0)\nprint(5)\n", "import sys\nsys.exit(0)\nprint(5)\n"):
        status, detail, _ = grade(grader, code, _problem("5"))
        assert status == "wrong_answer", detail


def test_signals_cannot_reach_the_grader_or_host(grader):
    sentinel = subprocess.Popen(["sleep", "60"])
    try:
        code = f"import os, signal\nos.kill(-1, signal.SIGKILL)\nos.kill({sentinel.pid}, signal.SIGKILL)\nprint(5)\n"
        status, detail, _ = grade(grader, code, _problem("5"))
        assert status in ("runtime_error", "accepted"), detail
        assert sentinel.poll() is None, "a sandboxed program killed a host process"
        assert os.getpid() > 0  # and we are still here
    finally:
        sentinel.kill()
        sentinel.wait()

"""Engine output goes to <run>/engine.log; the terminal keeps evalkit's own lines, progress and table.

The unit tests run a small Python program in a child process (so its fds 1/2 are its own) that writes the way
vLLM does: Python logging to stdout, and a subprocess that inherits fds 1/2. The engine test runs the real CLI.
"""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = textwrap.dedent("""
    import logging, subprocess, sys
    from pathlib import Path
    from rich.console import Console
    from evalkit.errors import EvalkitError
    from evalkit.run.enginelog import engine_output_to_log

    run, mode = Path(sys.argv[1]), sys.argv[2]
    err, out = Console(stderr=True), Console()
    log = logging.getLogger("vllm")
    log.addHandler(logging.StreamHandler(sys.stdout))
    try:
        with engine_output_to_log(run, (err, out), verbose=mode == "verbose"):
            log.warning("ENGINE-LOGGING")
            subprocess.run(["sh", "-c", "echo CHILD-OUT; echo CHILD-ERR >&2"], check=True)
            print("ENGINE-PRINT")
            err.print("EVALKIT-ERR")
            out.print("EVALKIT-OUT")
            if mode == "fail":
                raise EvalkitError("vLLM could not load 'x'")
            if mode == "crash":
                raise RuntimeError("EngineCore died")
    except EvalkitError as e:
        err.print(f"error: {e}", soft_wrap=True)  # as evalkit.cli.main prints it
        sys.exit(2)
    out.print("AFTER")
""")

ENGINE_LINES = ("ENGINE-LOGGING", "CHILD-OUT", "CHILD-ERR", "ENGINE-PRINT")


def run_program(tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path / "run"), mode], capture_output=True,
                          text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)


def test_engine_output_goes_to_the_log_and_evalkit_lines_to_the_terminal(tmp_path):
    proc = run_program(tmp_path, "quiet")
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "run" / "engine.log").read_text()
    for line in ENGINE_LINES:
        assert line in log and line not in proc.stdout + proc.stderr, line
    assert "EVALKIT-ERR" in proc.stderr and "EVALKIT-OUT" in proc.stdout and "EVALKIT" not in log
    assert proc.stdout.rstrip().endswith("AFTER"), "stdout is restored after the block"


def test_verbose_streams_the_engine_output(tmp_path):
    proc = run_program(tmp_path, "verbose")
    assert proc.returncode == 0, proc.stderr
    for line in ENGINE_LINES:
        assert line in proc.stdout + proc.stderr, line
    assert not (tmp_path / "run" / "engine.log").exists()


@pytest.mark.parametrize("mode", ["fail", "crash"])
def test_engine_failure_is_one_line_naming_the_log(tmp_path, mode):
    proc = run_program(tmp_path, mode)
    assert proc.returncode == 2
    log_path = tmp_path / "run" / "engine.log"
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and str(log_path) in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    if mode == "crash":
        assert "RuntimeError: EngineCore died" in log_path.read_text(), "the traceback is kept in the log"


VLLM_LINE = re.compile(r"^(\(EngineCore[^)]*\) )?(INFO|WARNING|DEBUG) \d\d-\d\d ", re.M)


@pytest.mark.engine
def test_cli_sweep_keeps_vllm_logging_out_of_the_terminal(tmp_path):
    cmd = [sys.executable, "-m", "evalkit", "sweep", "--benchmarks", "arith", "--arith-count", "3", "--budgets", "8",
           "--solution-budget", "8", "--temperature", "0", "--max-model-len", "1024", "--name", "quiet",
           "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**__import__("os").environ, "VLLM_CPU_KVCACHE_SPACE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    terminal = proc.stdout + proc.stderr
    assert not VLLM_LINE.search(terminal), VLLM_LINE.search(terminal).group(0)
    assert "starting engine vllm" in proc.stderr and "pass@1" in proc.stdout and "done" in proc.stdout
    log = (tmp_path / "quiet" / "engine.log").read_text()
    assert len(VLLM_LINE.findall(log)) >= 5, log[-2000:]
    assert "EngineCore" in log, "the engine-core subprocess's output lands in the log too"

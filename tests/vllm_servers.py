"""Real vLLM OpenAI-compatible servers for tests: spawned on free 127.0.0.1 ports, killed at teardown.

Each server runs in its own process group so that killing it also ends vLLM's engine-core and worker processes
(they would otherwise outlive the API server). `VLLM_CPU_OMP_THREADS_BIND=nobind` and one OpenMP thread: vLLM's
CPU build otherwise pins every instance to the same core, and two replicas plus the in-process test engine would
then share one core while the others idle.

`deterministic=True` starts a server in the configuration of conftest's `deterministic_engine` (one sequence at a
time, no prefix cache): its output for a request then depends on the request alone, not on what else it serves.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

START_TIMEOUT = 300.0  # seconds; a cold start on a busy 2-core CI box can take minutes
# vLLM options that make a request's output independent of what else runs: one sequence per step (no batch to be
# variant to) and no prefix cache (a prompt's KV always comes from its own prefill). As LLM(...) kwargs and as flags.
DETERMINISTIC = {"max_num_seqs": 1, "enable_prefix_caching": False}
DETERMINISTIC_ARGS = ("--max-num-seqs", "1", "--no-enable-prefix-caching")
CPU_THREADS_ENV = {"VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=timeout) as r:
            return r.status == 200
    except Exception:
        return False


class Server:
    def __init__(self, model_dir: str, log_dir: Path, max_model_len: int = 2048, deterministic: bool = False,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"vllm-server-{self.port}.log"
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", **CPU_THREADS_ENV)
        cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir,
               "--host", "127.0.0.1", "--port", str(self.port), "--enforce-eager", "--no-enable-chunked-prefill",
               "--max-model-len", str(max_model_len), "--seed", "0", *(DETERMINISTIC_ARGS if deterministic else ()), *extra_args]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM server on {self.url} exited with {self.proc.returncode}: see {self.log_path}\n"
                                   + self.log_tail())
            if healthy(self.url):
                return
            time.sleep(1.0)
        raise RuntimeError(f"vLLM server on {self.url} not healthy after {timeout:.0f}s: see {self.log_path}\n" + self.log_tail())

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the server and every process it started (its process group)."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        # Reap the group's other members too: SIGKILL is not delivered to a zombie's parent-less children twice.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()


class ServerPool:
    """Replicas started on demand (in parallel) and reused for the whole test session."""

    def __init__(self, model_dir: str, log_dir: Path, deterministic: bool = False) -> None:
        self.model_dir = model_dir
        self.log_dir = log_dir
        self.deterministic = deterministic
        self.servers: list[Server] = []

    def replicas(self, n: int) -> list[Server]:
        """The first n replicas, (re)starting any that are missing or dead."""
        for i, s in enumerate(list(self.servers)):
            if i < n and not s.running:
                s.kill()
                self.servers[i] = Server(self.model_dir, self.log_dir, deterministic=self.deterministic)
        while len(self.servers) < n:
            self.servers.append(Server(self.model_dir, self.log_dir, deterministic=self.deterministic))
        for s in self.servers[:n]:
            s.wait()
        return self.servers[:n]

    def close(self) -> None:
        for s in self.servers:
            if s.running:
                s.kill(signal.SIGTERM)
            else:
                s.kill()

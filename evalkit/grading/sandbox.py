"""The sandbox: run untrusted Python programs in isolated, resource-limited processes, many at a time.

Every run gets its own process (`python -I -S`), a fresh temporary directory, a minimal environment and its own
process group (killed whole on a wall-clock timeout). Resource limits (CPU time, address space, file size, open
files, processes) are set by the trusted harness before any model code runs; the hard limits cannot be raised
again by an unprivileged process.

Isolation levels, probed once per Sandbox (`Sandbox._probe`):

- ``namespaces`` (running as root): `unshare` gives the run new mount, PID, network, IPC and UTS namespaces. The
  harness starts there as root and builds a private root on a tmpfs holding only read-only binds of /usr (and the
  /bin, /lib links), the Python installation and its venv, /dev/null, a private /proc, and the run directory at
  /box; it chroots into it, forks, and the child drops to an unprivileged uid of its own (one per parallel slot,
  no capabilities, no_new_privs) before any model code runs. So a program sees no network and no host files (no
  data directory, no expected outputs, no checkers), cannot write outside /box, cannot signal the grader, and
  everything it forks dies with it: when the namespace's init exits, the kernel kills the whole PID namespace.
- ``userns`` (not root, unprivileged user namespaces enabled): the same, inside a user namespace; the program
  keeps the invoking user's identity outside.
- ``none``: no namespaces could be created. Programs would still run with limits, a minimal environment and their
  own process group, but they CAN reach the network and read the user's files. So a probe that finds no isolation
  fails closed (EvalkitError naming the fix) unless the caller passed `allow_unsandboxed` (the CLI's
  `--allow-unsandboxed`, recorded in run.json). Commands probe before any engine starts (`probe_isolation`).

`EVALKIT_SANDBOX_ISOLATION=none` makes the probe report ``none`` on any machine: a testing and diagnostic knob,
so the unsandboxed path (refusal, or --allow-unsandboxed) can be exercised where namespaces work. It can only
take isolation away, never claim it.

The only tool used is `unshare` from util-linux (mounts, chroot and the uid switch are done by the harness itself,
one exec per run); no extra package is needed.
The child never gets expected outputs: the caller compares the output in the parent.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

from evalkit.errors import EvalkitError

Isolation = Literal["namespaces", "userns", "none"]
BOX = "/box"  # where the run directory appears inside the private root
_STDERR_KEEP = 16 * 1024  # bytes of stderr kept (the tail) for details and status markers
_UID_BASE = 1_900_000_000  # unprivileged uids for sandboxed programs: far above any real account

ISOLATION_ENV = "EVALKIT_SANDBOX_ISOLATION"  # "none" forces the unsandboxed path (tests, diagnostics)
UNSANDBOXED_FIX = ("run as root, enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), "
                   "or pass --allow-unsandboxed to run it anyway with your network and files in reach")

HARNESS = "_evalkit_harness.py"
HARNESS_SOURCE = (Path(__file__).parent / "harness.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Limits:
    """Per-run limits. `cpu_seconds` is the judged time limit; the wall clock gets slack for a loaded machine."""

    cpu_seconds: float = 6.0
    # None: 3 x cpu + 5 s. Generous on purpose: on a loaded machine a program can wait long for a core; CPU-bound
    # programs are stopped by the CPU limit, so only sleeping or blocked ones ever wait for the wall clock.
    wall_seconds: float | None = None
    memory_bytes: int = 2 << 30  # address space
    output_bytes: int = 32 << 20  # stdout read from the program; more is "output limit exceeded"
    file_bytes: int = 16 << 20  # largest file the program may write
    open_files: int = 64
    processes: int = 32

    @property
    def wall(self) -> float:
        return self.wall_seconds if self.wall_seconds is not None else 3.0 * self.cpu_seconds + 5.0

    def rlimits(self) -> list[int]:
        """What the harness applies before model code runs: CPU seconds (soft, SIGXCPU; hard is one more), address space,
        file size, open files, processes. The CPU rlimit is a backstop: time_limit is judged from measured CPU."""
        return [max(1, int(math.ceil(self.cpu_seconds))), int(self.memory_bytes), int(self.file_bytes),
                int(self.open_files), int(self.processes)]


@dataclass
class RunRequest:
    """One program run. `files` are written into the fresh run directory and must include the program as
    `prog.py`; the harness runs it in `mode` (script | lcb-stdin | lcb-functional, see harness.py) with
    `func_name` / `argv`; stdin is the file `stdin_file` in the run directory (or empty)."""

    files: dict[str, str | bytes]
    mode: str = "script"
    func_name: str | None = None
    argv: tuple[str, ...] = ()
    stdin_file: str | None = None
    limits: Limits = Limits()
    read_back: tuple[str, ...] = ()  # files to read from the run directory afterwards (regular files only)
    group: Any = None  # runs of one group can be cancelled together (those with a higher `order`)
    order: int = 0
    tag: Any = None  # free for the caller


@dataclass
class RunResult:
    request: RunRequest
    exit_code: int | None = None  # None when killed by a signal
    signal: int | None = None
    stdout: bytes = b""
    stderr: str = ""  # the tail
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    max_rss_bytes: int = 0
    wall_timeout: bool = False
    output_exceeded: bool = False
    cancelled: bool = False
    files: dict[str, bytes | None] = field(default_factory=dict)


def python_binds() -> list[str]:
    """Directories the sandboxed interpreter needs: the base installation and the venv (read-only)."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            paths.add(sysconfig.get_paths()[key])
        except KeyError:
            pass
    out = []
    for p in sorted(paths, key=len):
        p = os.path.realpath(p)
        if p in ("/", "/usr") or p.startswith("/usr/") or any(p == q or p.startswith(q + "/") for q in out):
            continue
        out.append(p)
    return out


def site_paths() -> list[str]:
    """site-packages of the running interpreter: the harness adds them to sys.path itself (no .pth processing)."""
    paths = []
    for key in ("purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p and p not in paths and os.path.isdir(p):
            paths.append(p)
    return paths


class Sandbox:
    """Runs RunRequests, up to `workers` at a time, from one thread (no threads: a selector loop).

    With isolation "auto" the level is probed; finding none raises EvalkitError unless `allow_unsandboxed`."""

    def __init__(self, isolation: Isolation | Literal["auto"] = "auto", workers: int = 2, python: str | None = None,
                 allow_unsandboxed: bool = False) -> None:
        forced = _forced_isolation() if isolation == "auto" else None
        self.workers = max(1, int(workers))
        self.python = python or sys.executable
        self.base = Path(tempfile.mkdtemp(prefix="evalkit-sandbox-"))
        self.mountpoint = self.base / "root"
        self.mountpoint.mkdir(mode=0o755)
        self.binds = python_binds()
        self.site = site_paths()
        self.unshare = shutil.which("unshare", path="/usr/bin:/bin:/usr/sbin:/sbin:" + os.environ.get("PATH", ""))
        # uid of parallel slot k is uid_base + k; distinct per grading process so concurrent graders do not share
        self.uid_base = _UID_BASE + (os.getpid() % 100_000) * 64
        self.why_none = f"{ISOLATION_ENV}=none" if forced == "none" else ""
        if isolation != "auto":
            self.isolation: Isolation = isolation
        else:
            self.isolation = "none" if forced == "none" else self._probe()
            if self.isolation == "none" and not allow_unsandboxed:
                self.close()
                raise EvalkitError(f"cannot isolate generated code on this machine ({self.why_none}): {UNSANDBOXED_FIX}")

    # ---- isolation -------------------------------------------------------------------------------------------

    def _probe(self) -> Isolation:
        if sys.platform != "linux":
            self.why_none = "not Linux"
            return "none"
        if self.unshare is None:
            self.why_none = "`unshare` (util-linux) not found"
            return "none"
        candidates: list[Isolation] = ["namespaces", "userns"] if os.geteuid() == 0 else ["userns"]
        for level in candidates:
            self.isolation = level
            probe = RunRequest(files={"prog.py": "import os\nprint(os.getuid())\n"}, limits=Limits(cpu_seconds=5))
            try:
                res = self.run([probe])[0]
            except OSError:
                continue
            if res.exit_code == 0 and res.stdout.strip():
                return level
            self.why_none = f"unshare failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.exit_code}"
        self.why_none = self.why_none or "namespaces not permitted"
        return "none"

    def _command(self, run_dir: Path, uid: int | None, req: RunRequest) -> list[str]:
        """argv for one run: the harness (under `unshare` in the namespace modes) with its JSON config."""
        config: dict[str, Any] = {"mode": req.mode, "func_name": req.func_name, "argv": list(req.argv),
                                  "limits": req.limits.rlimits(), "site": self.site, "jail": None}
        harness = [self.python, "-I", "-S", str(run_dir / HARNESS)]
        if self.isolation == "none":
            return [*harness, json.dumps(config)]
        assert self.unshare is not None
        config["jail"] = {"root": str(self.mountpoint), "uid": uid, "binds": self.binds}
        ns = [self.unshare, "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
        if self.isolation == "userns":
            ns += ["--user", "--map-root-user"]
        return [*ns, "--", *harness, json.dumps(config)]

    def _env(self) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "HOME": BOX if self.isolation != "none" else "/nonexistent", "TMPDIR": BOX if self.isolation != "none" else "",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        }
        return {k: v for k, v in env.items() if v}

    # ---- running ---------------------------------------------------------------------------------------------

    def run(self, requests: Iterable[RunRequest]) -> list[RunResult]:
        """Run every request (no cancellation) and return results in request order."""
        reqs = list(requests)
        results: list[RunResult | None] = [None] * len(reqs)
        index = {id(r): i for i, r in enumerate(reqs)}

        def done(res: RunResult, _sched: "Scheduler") -> None:
            results[index[id(res.request)]] = res

        Scheduler(self, done).run(reqs)
        return [r for r in results if r is not None]

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _forced_isolation() -> str | None:
    """The EVALKIT_SANDBOX_ISOLATION knob: unset, "" or "auto" probe as usual; "none" skips the probe."""
    value = os.environ.get(ISOLATION_ENV, "").strip().lower()
    if value in ("", "auto"):
        return None
    if value != "none":
        raise EvalkitError(f"{ISOLATION_ENV}={value!r} is not understood: unset it (probe the machine) or set it to none")
    return value


def probe_isolation(allow_unsandboxed: bool = False) -> Isolation:
    """The isolation level programs will get here, probed up front so a command fails in seconds, before any
    engine starts. Raises EvalkitError naming the fix when there is none and `allow_unsandboxed` is False."""
    with Sandbox(workers=1, allow_unsandboxed=allow_unsandboxed) as sb:
        return sb.isolation


class _Running:
    __slots__ = ("req", "proc", "run_dir", "slot", "start", "out", "err", "out_len", "open", "exited", "status",
                 "rusage", "killed_for", "exited_at", "pidfd")

    def __init__(self, req: RunRequest, proc: subprocess.Popen, run_dir: Path, slot: int) -> None:
        self.req, self.proc, self.run_dir, self.slot = req, proc, run_dir, slot
        self.start = time.monotonic()
        self.out: list[bytes] = []
        self.err = bytearray()
        self.out_len = 0
        self.open = 2
        self.exited = False
        self.status = 0
        self.rusage: Any = None
        self.killed_for: str | None = None
        self.exited_at = 0.0
        self.pidfd: int | None = None


class Scheduler:
    """A single-threaded loop: start runs up to the worker count, read their pipes, enforce wall clock and output
    limits, reap them with their resource usage, and hand each result to `on_done`, which may `submit` follow-up
    runs (a checker) or `cancel` a group (stop at the first failure)."""

    def __init__(self, sandbox: Sandbox, on_done: Callable[[RunResult, "Scheduler"], None]) -> None:
        self.sb = sandbox
        self.on_done = on_done
        self.queue: deque[RunRequest] = deque()
        self.running: dict[int, _Running] = {}
        self.cancelled: dict[Any, int] = {}
        self.sel = selectors.DefaultSelector()
        self.free_slots = list(range(sandbox.workers))[::-1]

    def submit(self, req: RunRequest, front: bool = False) -> None:
        (self.queue.appendleft if front else self.queue.append)(req)

    def cancel(self, group: Any, after: int = -1) -> None:
        """Drop queued runs of `group` whose order is above `after` and kill such running ones (their results come
        back with cancelled=True). Runs at or below `after` go on, so the first failure in order is exact."""
        self.cancelled[group] = min(after, self.cancelled.get(group, after))
        for r in self.running.values():
            if r.req.group == group and r.req.order > after and r.killed_for is None:
                self._kill(r, "cancelled")

    def _is_cancelled(self, req: RunRequest) -> bool:
        return req.group is not None and req.group in self.cancelled and req.order > self.cancelled[req.group]

    def run(self, requests: Iterable[RunRequest]) -> None:
        for r in requests:
            self.submit(r)
        try:
            while self.queue or self.running:
                self._fill()
                self._step()
        finally:
            for r in list(self.running.values()):
                self._kill(r, "aborted")
                self._finish(r, notify=False)
            self.sel.close()

    def _fill(self) -> None:
        while self.queue and self.free_slots:
            req = self.queue.popleft()
            if self._is_cancelled(req):
                self.on_done(RunResult(req, cancelled=True), self)
                continue
            self._start(req, self.free_slots.pop())

    def _start(self, req: RunRequest, slot: int) -> None:
        sb = self.sb
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=sb.base))
        uid = sb.uid_base + slot if sb.isolation == "namespaces" else None
        for name, content in req.files.items():
            path = run_dir / name
            data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
            path.write_bytes(data)
        if uid is not None:
            os.chown(run_dir, uid, uid)
            for name in req.files:
                os.chown(run_dir / name, uid, uid)
        (run_dir / HARNESS).write_text(HARNESS_SOURCE, encoding="utf-8")
        argv = sb._command(run_dir, uid, req)
        stdin = open(run_dir / req.stdin_file, "rb") if req.stdin_file else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(
                argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=run_dir, env=sb._env(),
                start_new_session=True, close_fds=True,
            )
        finally:
            if req.stdin_file:
                stdin.close()  # type: ignore[union-attr]
        run = _Running(req, proc, run_dir, slot)
        self.running[proc.pid] = run
        try:  # wakes the loop the moment the process exits (Linux >= 5.3); else the loop polls
            run.pidfd = os.pidfd_open(proc.pid)
            self.sel.register(run.pidfd, selectors.EVENT_READ, (run, "exit"))
        except (AttributeError, OSError):
            run.pidfd = None
        for stream, kind in ((proc.stdout, "out"), (proc.stderr, "err")):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
            self.sel.register(stream, selectors.EVENT_READ, (run, kind))

    def _step(self) -> None:
        now = time.monotonic()
        timeout = 0.05
        for r in self.running.values():
            if r.killed_for is None:
                timeout = min(timeout, max(0.0, r.start + r.req.limits.wall - now))
        for key, _ in self.sel.select(timeout):
            run, kind = key.data
            if kind != "exit":
                self._read(run, key.fileobj, kind)
        now = time.monotonic()
        for pid, r in list(self.running.items()):
            if not r.exited:
                try:
                    wpid, status, rusage = os.wait4(pid, os.WNOHANG)
                except ChildProcessError:
                    wpid, status, rusage = pid, 0, None
                if wpid == pid:
                    r.exited, r.status, r.rusage, r.exited_at = True, status, rusage, now
                    self._close_pidfd(r)
                    # Leftover children in a process group outlive nothing: kill the group now.
                    self._killpg(r)
            if not r.exited and r.killed_for is None and now - r.start > r.req.limits.wall:
                self._kill(r, "wall")
            if r.exited and (r.open == 0 or now - r.exited_at > 0.5):
                self._finish(r)

    def _read(self, r: _Running, stream: Any, kind: str) -> None:
        try:
            data = os.read(stream.fileno(), 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(stream)
            stream.close()
            r.open -= 1
            return
        if kind == "out":
            r.out_len += len(data)
            if r.out_len > r.req.limits.output_bytes:
                if r.killed_for is None:
                    self._kill(r, "output")
                return
            r.out.append(data)
        else:
            r.err += data
            if len(r.err) > 2 * _STDERR_KEEP:
                del r.err[: len(r.err) - _STDERR_KEEP]

    def _close_pidfd(self, r: _Running) -> None:
        if r.pidfd is not None:
            self.sel.unregister(r.pidfd)
            os.close(r.pidfd)
            r.pidfd = None

    def _killpg(self, r: _Running) -> None:
        try:
            os.killpg(r.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _kill(self, r: _Running, why: str) -> None:
        r.killed_for = why
        self._killpg(r)

    def _finish(self, r: _Running, notify: bool = True) -> None:
        if not r.exited:
            try:
                _, r.status, r.rusage = os.wait4(r.proc.pid, 0)
            except ChildProcessError:
                pass
        self._close_pidfd(r)
        r.proc.returncode = r.status  # reaped by us; keeps Popen from reaping again
        for stream in (r.proc.stdout, r.proc.stderr):
            if stream is not None and not stream.closed:
                try:
                    self.sel.unregister(stream)
                except (KeyError, ValueError):
                    pass
                stream.close()
        del self.running[r.proc.pid]
        self.free_slots.append(r.slot)
        res = RunResult(r.req, wall_seconds=time.monotonic() - r.start, stdout=b"".join(r.out),
                        stderr=bytes(r.err[-_STDERR_KEEP:]).decode("utf-8", "replace"))
        if os.WIFSIGNALED(r.status):
            res.signal = os.WTERMSIG(r.status)
        else:
            code = os.WEXITSTATUS(r.status)
            # In the namespace modes the init shell reports a program killed by signal N as exit 128+N.
            if self.sb.isolation != "none" and code > 128:
                res.signal = code - 128
            else:
                res.exit_code = code
        if r.rusage is not None:
            res.cpu_seconds = r.rusage.ru_utime + r.rusage.ru_stime
            res.max_rss_bytes = r.rusage.ru_maxrss * 1024
        res.wall_timeout = r.killed_for == "wall"
        res.output_exceeded = r.killed_for == "output"
        res.cancelled = r.killed_for in ("cancelled", "aborted")
        for name in r.req.read_back:
            res.files[name] = _read_regular(r.run_dir / name, r.req.limits.output_bytes)
        shutil.rmtree(r.run_dir, ignore_errors=True)
        if notify:
            self.on_done(res, self)


def _read_regular(path: Path, limit: int) -> bytes | None:
    """Read a file the program wrote, refusing symlinks and anything that is not a regular file (the grader
    runs as root: a link to a host file must not be followed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)[: limit + 1]
    finally:
        os.close(fd)

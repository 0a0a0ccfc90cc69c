"""The in-sandbox side of a program run: apply resource limits, then run the model's program. Standard library only.

This file is copied into each run directory and executed as `python -I -S _evalkit_harness.py CONFIG_JSON` by
evalkit.grading.sandbox, with the run directory as its cwd. In the namespace modes it starts as root of fresh
namespaces (under `unshare`): it builds the private root, chroots, forks, stays behind as the namespace's init, and
the child drops to the sandbox uid, applies the limits and only then runs model code. It never sees expected
outputs; it only runs the program and lets the parent judge.
Nothing it prints can make a wrong program pass: the parent compares outputs against answers the child never had.

Modes:
- ``script``: the program is `__main__` with the real stdin and stdout (Codeforces style).
- ``lcb-stdin``: LiveCodeBench's official stdin harness, reproduced so that verdicts match it: the program is
  wrapped into a function after LiveCodeBench's star imports, `if __name__ == '__main__':` at the end is unwrapped,
  stdin is a `StringIO` of the input (so `sys.stdin.buffer` does not exist, as in the official grader), `open()`
  returns the input, `SystemExit` ends the run normally, and the same os/shutil/subprocess functions are disabled.
- ``lcb-functional``: LeetCode style: `Solution().<func_name>(*args)` with one JSON argument per input line; the
  return value (tuples become lists, as officially) is written as JSON after a marker.

Exit codes the parent reads together with the output: 0 ran to the end, 1 uncaught exception (traceback on stderr),
3 syntax error (compile_error). A MemoryError is reported on stderr with a marker.
"""

import builtins
import io
import json
import os
import resource
import sys
import traceback

COMPILE_EXIT = 3
RESULT_MARK = "\x00EVALKIT-RESULT\x00"
MEMORY_MARK = "EVALKIT-MEMORY-ERROR"
COMPILE_MARK = "EVALKIT-COMPILE-ERROR"

LCB_IMPORTS = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)


def set_limits(cpu, address_space, file_size, open_files, processes):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    except (ValueError, OSError):
        pass


def compile_or_exit(source, name):
    try:
        return compile(source, name, "exec")
    except (SyntaxError, ValueError) as e:  # ValueError: null bytes in the source
        sys.stderr.write(f"{COMPILE_MARK}: {type(e).__name__}: {e}\n")
        sys.stderr.flush()
        os._exit(COMPILE_EXIT)


def report_exception(exc):
    if isinstance(exc, MemoryError):
        sys.stderr.write(MEMORY_MARK + "\n")
    try:
        traceback.print_exception(type(exc), exc, exc.__traceback__, limit=5, file=sys.__stderr__)
    except Exception:
        sys.__stderr__.write(f"{type(exc).__name__}\n")
    sys.__stderr__.flush()


# ---- LiveCodeBench compatibility (reproduces the official lcb_runner harness's behaviour) ------------------------


def clean_if_name(code):
    import ast

    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            code = ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:
        pass
    return code


def make_function(code):
    import ast

    try:
        tree = ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
        others = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        fn = ast.FunctionDef(
            name="wrapped_function",
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=others, decorator_list=[], lineno=-1,
        )
        return LCB_IMPORTS + "\n" + ast.unparse(imports) + "\n" + ast.unparse(fn)
    except Exception:
        return code


def lcb_guard():
    """The functions the official harness disables before running a solution (its reliability_guard)."""
    import shutil
    import subprocess

    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
                 "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
                 "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


class _Out(io.StringIO):
    """stdout as the official harness sees it (a StringIO: no .buffer), streamed to fd 1 so memory stays small."""

    def write(self, s):
        n = super().write(s)
        if self.tell() > 1 << 16:
            self.drain()
        return n

    def drain(self):
        data = self.getvalue().encode("utf-8", "replace")
        self.seek(0)
        self.truncate(0)
        view = memoryview(data)
        while view:
            view = view[os.write(1, view):]


class _FakeFile(io.StringIO):
    def __init__(self, data):
        super().__init__(data)

    def write(self, s):  # the official mock accepts and discards writes
        return len(s)


def run_lcb_stdin(source, data):
    lcb_guard()
    code = make_function(clean_if_name(source))
    compiled = compile_or_exit(code, "<solution>")
    module = {"__name__": "tmp_sol", "__builtins__": builtins}
    out = _Out()
    exc = None
    try:
        exec(compiled, module)
        fn = module["wrapped_function"]
        sys.stdin = io.StringIO(data)
        builtins.open = lambda *a, **k: _FakeFile(data)
        sys.stdout = out
        try:
            fn()
        except SystemExit:
            pass
    except BaseException as e:  # the program's own failure: a runtime error, reported to the parent
        exc = e
    finally:
        sys.stdout = sys.__stdout__
    try:
        out.drain()
    except MemoryError as e:
        exc = exc or e
    if exc is not None:
        report_exception(exc)
        os._exit(1)
    os._exit(0)


def encode_value(value, top=True):
    """The return value as JSON that compares in the parent exactly as Python's == would with the expected JSON
    value: tuples below the top level and non-JSON types are wrapped so they never compare equal to a list."""
    if top and isinstance(value, tuple):
        value = list(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode_value(v, False) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: encode_value(v, False) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item) and type(value).__module__ == "numpy":
        try:
            return encode_value(value.item(), False)
        except Exception:
            pass
    return {"__evalkit_unequal__": type(value).__name__}


def run_lcb_functional(source, data, func_name):
    lcb_guard()
    code = LCB_IMPORTS + "\n\n" + source
    compiled = compile_or_exit(code, "<solution>")
    real_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    sys.stdout = sys.stderr  # the program's own prints must not mix with the result channel
    try:
        module = {"__name__": "tmp_sol", "__builtins__": builtins}
        exec(compiled, module)
        target = module["Solution"]() if "class Solution" in code else None
        method = getattr(target, func_name) if target is not None else module[func_name]
        args = [json.loads(line) for line in data.split("\n")]
        result = json.dumps(encode_value(method(*args)))
    except BaseException as e:
        report_exception(e)
        os._exit(1)
    real_out.write(RESULT_MARK + result + "\n")
    real_out.flush()
    os._exit(0)


def run_script(source):
    compiled = compile_or_exit(source, "prog.py")
    module = {"__name__": "__main__", "__builtins__": builtins, "__file__": os.path.abspath("prog.py")}
    try:
        exec(compiled, module)
    except SystemExit:
        raise
    except BaseException as e:
        report_exception(e)
        sys.stdout.flush()
        os._exit(1)


# ---- the jail (namespace modes): build a private root, enter it, drop privileges -------------------------------

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_NO_NEW_PRIVS = 38


def _libc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def mount(src, target, fstype, flags, data=None):
        if libc.mount(src.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                      data.encode() if data else None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {src} on {target}: {os.strerror(err)}")

    return libc, mount


def _kept_flags(path):
    """Flags of the mount under `path` that a remount inside a user namespace must keep (they are locked)."""
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            out |= ms
    return out


def enter_jail(jail, run_dir):
    """Runs as root of fresh mount/PID/net namespaces: /usr, the Python installation and /dev/null read-only,
    a private /proc, the run directory at /box and nothing else; then chroot there."""
    libc, mount = _libc()
    root = jail["root"]
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("evalkit-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=256k")
    for path in ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", *jail["binds"]]:
        target = root + path
        if os.path.lexists(target) or not os.path.lexists(path):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(path):
            os.symlink(os.readlink(path), target)
        elif os.path.isdir(path):
            os.makedirs(target)
            mount(path, target, None, MS_BIND | MS_REC)
            mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | _kept_flags(path))
    for d in ("dev", "proc", "tmp", "box"):
        os.makedirs(root + "/" + d, exist_ok=True)
    open(root + "/dev/null", "w").close()
    mount("/dev/null", root + "/dev/null", None, MS_BIND)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount(run_dir, root + "/box", None, MS_BIND)
    mount("none", root + "/box", None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | _kept_flags(run_dir))
    mount("none", root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chroot(root)
    os.chdir("/box")
    return libc


def drop_privileges(libc, uid):
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")


def init_wait(child):
    """pid 1 of the namespace: reap everything until the program exits, then exit with its status. Exiting makes
    the kernel kill whatever the program left behind."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(1)
        if pid == child:
            os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


def main():
    config = json.loads(sys.argv[1])
    jail = config.get("jail")
    with open("prog.py", encoding="utf-8", errors="surrogateescape") as f:
        source = f.read()
    mode = config["mode"]
    data = sys.stdin.read() if mode != "script" else None
    if jail:
        libc = enter_jail(jail, os.getcwd())
        child = os.fork()
        if child:
            sys.stdin.close()
            init_wait(child)
        drop_privileges(libc, jail.get("uid"))
    sys.path[:] = [p for p in sys.path if p] + list(config["site"])
    set_limits(*config["limits"])
    if mode == "script":
        sys.argv = ["prog.py", *config.get("argv", [])]
        run_script(source)
    elif mode == "lcb-stdin":
        run_lcb_stdin(source, data)
    elif mode == "lcb-functional":
        run_lcb_functional(source, data, config["func_name"])
    else:
        sys.stderr.write(f"harness: unknown mode {mode}\n")
        os._exit(2)


if __name__ == "__main__":
    main()

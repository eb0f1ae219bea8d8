"""promptkiln's warm interpreter: a Python that has already imported the document stack and
waits for one job, then runs it exactly as ``python3 SCRIPT ARGS...`` would.

Started by the Docker backend (``docker exec``, as the sandbox user, in a sandbox no job has
touched) with its stdin attached. It imports the heavy modules with stdout and stderr pointed
at /dev/null, writes :data:`READY` to stdout and blocks on stdin. The host sends one line: a JSON
object ``{"argv": [SCRIPT, ARGS...], "cwd": DIR}``. Then stdin becomes /dev/null (as for a
plain exec), and the script runs as ``__main__`` in a fresh module with a fresh globals dict,
``sys.argv``, ``sys.path[0]`` and the working directory set as Python sets them for a script.
An uncaught exception prints its traceback (without this file's frame) and exits 1;
``sys.exit`` and ``os._exit`` behave as ever, because this process *is* the script's process.
Nothing is reused: the process ends with the job, and the sandbox is destroyed after it.
"""

import builtins
import contextlib
import gc
import json
import os
import sys
import types

READY = b"promptkiln-warm-ready\n"
#: What the templates tell models to use. A module that fails to import is skipped.
MODULES = (
    "matplotlib",
    "matplotlib.pyplot",
    "numpy",
    "pandas",
    "PIL.Image",
    "reportlab.lib.pagesizes",
    "reportlab.pdfgen.canvas",
    "reportlab.platypus",
    "openpyxl",
    "docx",
    "pptx",
)


def _warm() -> None:
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        for name in MODULES:
            with contextlib.suppress(Exception):
                __import__(name)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (null, *saved):
            os.close(fd)


def _job() -> dict:
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 65536)
        if not chunk:
            os._exit(0)  # the host went away before the job came: nothing ran
        line += chunk
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return json.loads(line)


def _run(argv: list, cwd: str) -> None:
    path = argv[0]
    os.chdir(cwd)
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    main.__cached__ = None
    sys.modules["__main__"] = main
    with open(path, "rb") as f:
        source = f.read()
    try:
        code = compile(source, path, "exec")
    except SyntaxError as exc:
        exc.__traceback__ = None  # as Python shows it: no frame of this file
        sys.excepthook(type(exc), exc, None)
        sys.exit(1)
    try:
        exec(code, main.__dict__)
        status = 0
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except BaseException as exc:
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        exc.__traceback__ = tb  # drop this file's frame: the script's own come first
        sys.excepthook(type(exc), exc, tb)
        status = 1
    _finish(main, status)


def _exit_status(code: object) -> int:
    """What Python makes of ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def _finish(main: types.ModuleType, status: int) -> None:
    """End as Python's own shutdown does, in its order: wait for non-daemon threads, run the
    atexit functions, drop the script's globals (so its objects are finalised: an unclosed
    file is flushed), flush stdio. Then exit at once: tearing down the whole document stack
    module by module would cost more than the script often does, and nothing outlives it."""
    import atexit
    import threading

    with contextlib.suppress(BaseException):
        threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    main.__dict__.clear()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


_warm()
# What the imports made lives until the end: keep the collector off it, so the script's
# collections (and the one at its end) only walk the script's own objects.
gc.collect()
gc.freeze()
os.write(1, READY)
_job_spec = _job()
_run(_job_spec["argv"], _job_spec["cwd"])

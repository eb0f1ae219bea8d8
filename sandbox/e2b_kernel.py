"""Kernel mode of the ``e2b`` backend: the script runs in the template's warm Jupyter kernel,
through ``Sandbox.run_code`` of E2B's ``e2b-code-interpreter`` package.

``run_code`` POSTs one cell to the code-interpreter server on port 49999 of the sandbox, which
runs it in the template's already started IPython kernel and streams back JSON lines (stdout,
stderr, results, an error, the end of the execution). The cell sent here is a small runner that
makes the kernel behave like ``python3 SCRIPT ARGS...``:

* the working directory, ``sys.argv``, ``sys.path[0]`` and the environment are set as for a
  script (the same environment as the command path, :data:`promptkiln.sandbox.e2b.SANDBOX_ENV`;
  matplotlib is switched to Agg if the kernel has already imported it);
* the script runs as ``__main__`` in a fresh module with a fresh globals dict (the kernel's own
  namespace is never the script's);
* ``sys.exit(n)`` gives status ``n``; an uncaught exception prints its traceback (without the
  runner's frame) to stderr and gives status 1, as Python does;
* non-daemon threads the script started are waited for, and its globals are dropped (so
  unclosed files are flushed) before the status is reported;
* the status comes back as the cell's value, with the kernel's "pid:starttime", so that the
  kernel itself is killed with everything else before the outputs are collected.

Not like a script: ``atexit`` functions the script registers are not run (they belong to the
kernel, which never exits), and ``os._exit`` ends the kernel itself (reported as status 1 with
the code-interpreter's error in stderr). On E2B's stock template the kernel runs as root.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptkiln.errors import ConfigError, ImageError, UsageError
from promptkiln.sandbox.e2b_parts import Capture, Outcome

#: E2B's own code-interpreter template: Jupyter on port 49999, no promptkiln build needed.
STOCK_TEMPLATE = "code-interpreter-v1"

_RUNNER = r"""
def __promptkiln_job(spec):
    import builtins, gc, os, sys, threading, traceback, types

    def status_of(code):
        if code is None:
            return 0
        if isinstance(code, int):
            return code & 0xFF
        try:
            print(code, file=sys.stderr)
        except Exception:
            pass
        return 1

    os.chdir(spec["cwd"])
    os.environ.update(spec["env"])
    mpl = sys.modules.get("matplotlib")
    if mpl is not None:
        try:
            mpl.use("Agg", force=True)
        except Exception:
            pass
    path = spec["argv"][0]
    sys.argv = list(spec["argv"])
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    main.__cached__ = None
    saved = sys.modules.get("__main__"), sys.stdout, sys.stderr
    sys.modules["__main__"] = main
    before = set(threading.enumerate())
    status = 0
    try:
        with open(path, "rb") as f:
            source = f.read()
        try:
            code = compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            traceback.print_exception(type(exc), exc, None, file=sys.stderr)
            code, status = None, 1
        if code is not None:
            try:
                exec(code, main.__dict__)
            except SystemExit as exc:
                status = status_of(exc.code)
            except BaseException as exc:
                tb = exc.__traceback__.tb_next if exc.__traceback__ else None
                traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
                status = 1
            for thread in threading.enumerate():
                if thread not in before and not thread.daemon:
                    thread.join()
    finally:
        main.__dict__.clear()
        gc.collect()
        sys.modules["__main__"], sys.stdout, sys.stderr = saved
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    with open("/proc/self/stat") as f:
        start = f.read().rsplit(")", 1)[1].split()[19]
    return "promptkiln-exit:%d:%d:%s" % (status, os.getpid(), start)
"""
_STATUS = re.compile(r"promptkiln-exit:(\d+):(\d+):(\d+)")


def code_interpreter() -> Any:
    """The ``e2b_code_interpreter`` module, or a ConfigError saying how to install it."""
    try:
        import e2b_code_interpreter
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "kernel mode needs E2B's code-interpreter SDK (e2b-code-interpreter)",
            hint="pip install 'promptkiln[e2b]', or turn kernel mode off ([e2b] kernel = false)",
        ) from exc
    return e2b_code_interpreter


def runner_cell(argv: Sequence[str], cwd: str, env: Mapping[str, str]) -> str:
    """The cell that runs ``argv`` (``python3 SCRIPT ARGS...``) in the kernel."""
    args = list(argv)
    if len(args) < 2 or args[0].rsplit("/", 1)[-1] not in ("python", "python3"):
        raise UsageError(
            f"kernel mode runs Python scripts only (python3 SCRIPT ARGS...), not {args!r}",
            hint="turn kernel mode off ([e2b] kernel = false) to run other commands",
        )
    spec = json.dumps({"argv": args[1:], "cwd": cwd, "env": dict(env)})
    return f"{_RUNNER}\nimport json as __pk_json\n__promptkiln_job(__pk_json.loads({spec!r}))\n"


def run_cell(
    sbx: Any,
    cell: str,
    out: Capture,
    err: Capture,
    outcome: Outcome,
    backstop_s: float,
) -> None:
    """Run ``cell`` with ``sbx.run_code`` and fill ``outcome`` (called on the worker thread)."""
    execution = sbx.run_code(
        cell,
        on_stdout=_text(out),
        on_stderr=_text(err),
        timeout=backstop_s,
    )
    for result in execution.results:
        found = _STATUS.search(getattr(result, "text", None) or "")
        if found:
            outcome.exit_code = int(found.group(1))
            outcome.kernel = f"{found.group(2)}:{found.group(3)}"
            return
    # No status: the kernel died under the script (os._exit, a crash) or never ran the cell.
    error = execution.error
    what = f"{error.name}: {error.value}" if error is not None else "no exit status came back"
    outcome.note = (
        f"\npromptkiln: the code-interpreter kernel ended the run without a status ({what})\n"
    )
    outcome.exit_code = 1


def no_kernel(exc: BaseException, template: str) -> None:
    """Raise a clear error if ``exc`` says the template serves no code interpreter: E2B's edge
    answers 502 "port is not open", which the code-interpreter SDK reports as a timeout."""
    if "port is not open" in str(exc):
        raise ImageError(
            f"the E2B template {template!r} does not run E2B's code-interpreter server (port "
            "49999 is not open), which kernel mode needs",
            image=template,
            hint=f"use the stock template ([e2b] template = {STOCK_TEMPLATE!r}) or one built on "
            "it, or turn kernel mode off ([e2b] kernel = false)",
        ) from exc


def _text(capture: Capture) -> Callable[[Any], None]:
    return lambda message: capture(str(getattr(message, "line", message)))


def without(baseline: str, entry: str) -> str:
    """The baseline ("pid:start pid:start ...") without ``entry``."""
    return " ".join(e for e in baseline.split() if e != entry)


__all__ = [
    "STOCK_TEMPLATE",
    "code_interpreter",
    "no_kernel",
    "run_cell",
    "runner_cell",
    "without",
]

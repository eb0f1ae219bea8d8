"""The program of a code-interpreter sandbox's kernel: one long-lived ``python3`` run as the
sandbox's user, serving one cell at a time on a unix socket in the sandbox's /tmp.

It answers each request (one JSON line: ``code``, ``context``, ``cwd``, ``env_vars``, or
``reset``) with the JSON lines E2B's code-interpreter server streams: ``number_of_executions``,
``stdout``/``stderr`` as they are written, ``result`` for every ``plt.show()`` (and every figure
left open at the end of the cell, as Jupyter's inline backend shows them) and for the cell's last
expression (text plus the value's rich ``_repr_*_`` formats: html, markdown, svg, png, jpeg,
latex, json, javascript), and ``error``. Each context keeps its own namespace and directory.
"""

from __future__ import annotations

SOCKET = "/tmp/.code-interpreter.sock"

KERNEL = r"""
import ast, base64, builtins, datetime, io, json, os, socket, sys, traceback

path = sys.argv[1]
os.chdir("/home/user")
os.environ.setdefault("MPLBACKEND", "Agg")
contexts = {}
count = 0
conn = None


def send(item):
    if conn is not None:
        try:
            conn.sendall(json.dumps(item).encode() + b"\n")
        except OSError:
            pass


class Stream(io.TextIOBase):
    def __init__(self, name):
        self.kind = name

    def writable(self):
        return True

    def write(self, text):
        if text:
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            send({"type": self.kind, "text": str(text), "timestamp": now})
        return len(text)


def figure(fig, main):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    w, h = fig.get_size_inches() * fig.dpi
    text = "<Figure size %dx%d with %d Axes>" % (w, h, len(fig.axes))
    return {"type": "result", "png": base64.b64encode(buf.getvalue()).decode(), "text": text,
            "is_main_result": main}


def show(*args, **kwargs):
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    for num in plt.get_fignums():
        send(figure(plt.figure(num), False))
    plt.close("all")


_import = builtins.__import__


def hooked_import(name, *args, **kwargs):
    module = _import(name, *args, **kwargs)
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None and plt.__dict__.get("show") not in (None, show):
        plt.show = show  # once pyplot is fully imported
    return module


builtins.__import__ = hooked_import
FORMATS = (("_repr_html_", "html"), ("_repr_markdown_", "markdown"), ("_repr_svg_", "svg"),
           ("_repr_png_", "png"), ("_repr_jpeg_", "jpeg"), ("_repr_latex_", "latex"),
           ("_repr_json_", "json"), ("_repr_javascript_", "javascript"))


def rich(value):
    if hasattr(value, "savefig") and hasattr(value, "get_size_inches"):
        return figure(value, True)
    out = {"type": "result", "is_main_result": True}
    for attr, key in FORMATS:
        method = getattr(type(value), attr, None)
        if not callable(method):
            continue
        try:
            data = method(value)
        except Exception:
            data = None
        if isinstance(data, tuple):
            data = data[0]
        if isinstance(data, bytes):
            data = base64.b64encode(data).decode()
        if data is not None:
            out[key] = data
    text = repr(value)
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]  # as the real server strips a str's quotes
    out["text"] = text
    return out


def context(name, cwd):
    if name not in contexts:
        contexts[name] = {"ns": {"__name__": "__main__", "__builtins__": builtins},
                          "cwd": cwd or "/home/user"}
    return contexts[name]


sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
server.bind(path)
os.chmod(path, 0o600)
server.listen(8)
while True:
    conn, _ = server.accept()
    with conn.makefile("rb") as f:
        request = json.loads(f.readline())
    if "reset" in request:
        contexts.pop(request["reset"], None)
        conn.close()
        conn = None
        continue
    ctx = context(request.get("context") or "default", request.get("cwd"))
    count += 1
    saved = dict(os.environ)
    os.environ.update(request.get("env_vars") or {})
    send({"type": "number_of_executions", "execution_count": count})
    name = "/tmp/ipykernel_%d/cell_%d.py" % (os.getpid(), count)
    try:
        os.chdir(ctx["cwd"])
        tree = ast.parse(request["code"], name, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, name, "exec"), ctx["ns"])
        value = None if last is None else eval(compile(last, name, "eval"), ctx["ns"])
        show()
        if value is not None:
            send(rich(value))
    except BaseException as exc:
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        send({"type": "error", "name": type(exc).__name__, "value": str(exc),
              "traceback": "".join(tb)})
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        try:
            ctx["cwd"] = os.getcwd()
        except OSError:
            pass
        os.environ.clear()
        os.environ.update(saved)
        conn.close()
        conn = None
"""

CLIENT = r"""
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
for _ in range(200):
    try:
        s.connect(sys.argv[1])
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit(3)
s.sendall(sys.argv[2].encode() + b"\n")
while True:
    data = s.recv(65536)
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
"""

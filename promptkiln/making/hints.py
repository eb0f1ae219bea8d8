"""Hints from the library's real API for a failed script: the nearest real names.

When a script fails with an AttributeError, an ImportError, a ModuleNotFoundError or a TypeError
about a keyword argument, telling the model *which names exist* teaches the fix far better than
the error alone. The names are resolved inside a fresh sandbox, against the library versions the
image really has (never the host's): :func:`introspection_script` writes a small program that
imports what the failed script imported and prints candidates as JSON.

    hint_for(failure, script, run) -> "reportlab.lib.styles has no 'NumberFormat'; close: ..."

Known traps that introspection cannot explain (assigning into reportlab's stylesheet, ...) have
fixed hints in :data:`KNOWN_TRAPS`.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable

from promptkiln.making.failure import Failure

#: (exception type, regex on the message, hint). Checked before introspection.
KNOWN_TRAPS: tuple[tuple[str, str, str], ...] = (
    (
        "NameError",
        r"name '(header|rows|labels|values|xs|ys|text|title|chart_title|table)' is not defined",
        "that name is the format note's: in the note it stands for the request's own content. "
        "Define it before its first use (header = the column names, rows = lists of cells, "
        "labels/values or xs/ys = the chart's data, title/text = the words), or leave out the "
        "part of the note the request does not ask for (a table, a chart)",
    ),
    (
        "KeyError",
        r"already defined in stylesheet",
        "getSampleStyleSheet() already has that style: use styles['Title'] as it is, or add a "
        "new one under a NEW name: styles.add(ParagraphStyle(name='MyTitle', "
        "parent=styles['Title']))",
    ),
    (
        "IndexError|KeyError",
        r"placeholder|idx",
        "this slide layout has no such placeholder: use slide.shapes.title for the title and "
        "slide.placeholders[1] only on layout 1 (Title and Content); on a blank layout "
        "(slide_layouts[6]) add text with slide.shapes.add_textbox(...)",
    ),
    (
        "AttributeError",
        r"'Table' object has no attribute",
        "a reportlab Table takes all of its rows at once: build a list of rows (header row "
        "first), then Table(rows) and table.setStyle(TableStyle([...]))",
    ),
    (
        "AttributeError",
        r"'(Worksheet|Workbook)' object has no attribute",
        "openpyxl: ws.append([...]) adds a row, ws['B2'] = value sets a cell, "
        "ws.column_dimensions['A'].width sets a width, wb.create_sheet('Name') adds a sheet",
    ),
    (
        "TypeError",
        r"add_table\(\) missing 1 required positional argument",
        "python-docx makes an empty table and you fill it: table = doc.add_table(rows=1, "
        "cols=len(header)); header cells in table.rows[0].cells; then for each row, cells = "
        "table.add_row().cells and cells[i].text = str(value); a DataFrame is not a table",
    ),
    (
        "TypeError",
        r"Value must be a list, tuple, range or generator, or a dict\. Supplied value is",
        "openpyxl's ws.append takes a plain list: ws.append(list(row)) or "
        "ws.append(row.tolist()) for a numpy/pandas row, and int/float/str cells (.item())",
    ),
    (
        "ValueError",
        r"Cannot convert .* to Excel",
        "openpyxl cells take numbers, strings, dates or formulas: convert numpy/pandas values "
        "with float(...) or str(...) first",
    ),
    (
        "FileNotFoundError",
        r"\.(png|jpe?g|gif|svg|bmp|webp)'?$",
        "that image does not exist: a picture must be drawn first (matplotlib, saved into "
        "buf = io.BytesIO() with fig.savefig(buf, format='png'), then buf.seek(0)); if the "
        "request asks for no picture, leave it out",
    ),
    (
        "FileNotFoundError",
        r"inputs/|No such file",
        "input files are in ./inputs/ (relative to the working directory); write outputs into "
        "the working directory itself",
    ),
    (
        "UnrecognizedImageError|UnidentifiedImageError",
        r"",
        "a picture needs the bytes of a real image: draw it with matplotlib, save it with "
        "buf = io.BytesIO(); fig.savefig(buf, format='png'); buf.seek(0), and pass buf; if the "
        "request asks for no picture, leave it out",
    ),
    (
        "AttributeError|TypeError",
        r"'(int|float|int64|float64|Timestamp)' object has no attribute '(split|strip)'"
        r"|expected (str|string), got (int|float)",
        "text in python-docx and python-pptx must be a str: convert numbers with str(...) or "
        'an f-string, e.g. shape.text = f"{value:,.2f}"',
    ),
    (
        "ModuleNotFoundError",
        r"No module named",
        "only the installed libraries can be used (no pip, no network)",
    ),
)

_MODULE_ATTR = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
_OBJECT_ATTR = re.compile(r"'(\w+)' object has no attribute '(\w+)'")
_TYPE_ATTR = re.compile(r"type object '(\w+)' has no attribute '(\w+)'")
_IMPORT_NAME = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_KWARG = re.compile(r"([\w.]+)\(\) got an unexpected keyword argument '(\w+)'")

#: Longest hint text sent to the model, in characters.
MAX_HINT_CHARS = 600


def known_trap(failure: Failure) -> str | None:
    for types, pattern, hint in KNOWN_TRAPS:
        if re.fullmatch(types, failure.exc_type) and re.search(pattern, failure.message):
            return hint
    return None


def query_for(failure: Failure) -> dict[str, str] | None:
    """What to look up in the sandbox for this failure, or None when introspection can't help."""
    msg = failure.message
    if failure.exc_type == "AttributeError":
        for pattern, kind in (
            (_MODULE_ATTR, "module"),
            (_OBJECT_ATTR, "class"),
            (_TYPE_ATTR, "class"),
        ):
            m = pattern.search(msg)
            if m:
                return {"kind": kind, "owner": m.group(1), "name": m.group(2)}
    if failure.exc_type == "ImportError":
        m = _IMPORT_NAME.search(msg)
        if m:
            return {"kind": "module", "owner": m.group(2), "name": m.group(1)}
    if failure.exc_type == "ModuleNotFoundError":
        m = _NO_MODULE.search(msg)
        if m:
            return {"kind": "toplevel", "owner": "", "name": m.group(1)}
    if failure.exc_type == "TypeError":
        m = _KWARG.search(msg)
        if m:
            return {"kind": "kwarg", "owner": m.group(1), "name": m.group(2)}
    return None


def import_lines(script: str) -> list[str]:
    """The script's top-level import statements, as source (empty when it does not parse)."""
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return []
    return [
        ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
    ][:40]


_PROGRAM = """\
import difflib, importlib, inspect, json, pkgutil, sys
Q = json.loads({query!r})
IMPORTS = json.loads({imports!r})
NS = {{}}
for line in IMPORTS:
    try:
        exec(line, NS)
    except BaseException:
        pass
TOPS = {{getattr(v, '__module__', None) or getattr(v, '__name__', '') for v in NS.values()}}
TOPS = {{t.split('.')[0] for t in TOPS if t}}

def public(names):
    return sorted(n for n in set(names) if not n.startswith('_'))

def classes(name):
    # the script's own name for it first, then classes of the packages it imported
    found = [NS[name]] if inspect.isclass(NS.get(name)) else []
    for mod in list(sys.modules.values()):
        obj = getattr(mod, name, None) if mod is not None else None
        if inspect.isclass(obj) and obj not in found:
            found.append(obj)
    found.sort(key=lambda c: (c is not NS.get(name), c.__module__.split('.')[0] not in TOPS))
    return found

def close(name, names, n=6):
    names = public(names)
    near = difflib.get_close_matches(name, names, n=n, cutoff=0.5)
    lowered = [x for x in names if name.lower() in x.lower() or x.lower() in name.lower()]
    return list(dict.fromkeys(near + lowered))[:n], len(names)

out = {{}}
kind, owner, name = Q['kind'], Q['owner'], Q['name']
try:
    if kind == 'module':
        mod = importlib.import_module(owner)
        out['close'], out['count'] = close(name, dir(mod))
        out['where'] = owner
    elif kind == 'class':
        for cls in classes(owner)[:1]:
            out['close'], out['count'] = close(name, dir(cls))
            out['where'] = cls.__module__ + '.' + cls.__qualname__
    elif kind == 'toplevel':
        names = [m.name for m in pkgutil.iter_modules()]
        out['close'], out['count'] = close(name.split('.')[0], names)
        out['where'] = 'installed modules'
    elif kind == 'kwarg':
        parts = owner.split('.')
        target = None
        if len(parts) >= 2:
            for cls in classes(parts[-2])[:1]:
                target = getattr(cls, parts[-1], None)
        else:
            for mod in list(sys.modules.values()):
                f = getattr(mod, parts[-1], None) if mod is not None else None
                if callable(f):
                    target = f
                    break
        if target is not None:
            params = [p for p in inspect.signature(target).parameters if p not in ('self', 'cls')]
            out['params'] = params[:30]
            out['where'] = owner
except BaseException as exc:
    out['error'] = type(exc).__name__
print('@@HINT@@' + json.dumps(out))
"""


def introspection_script(query: dict[str, str], script: str) -> str:
    return _PROGRAM.format(query=json.dumps(query), imports=json.dumps(import_lines(script)))


def format_hint(query: dict[str, str], answer: dict[str, object]) -> str | None:
    """One or two sentences from the sandbox's answer, or None when it found nothing useful."""
    where = str(answer.get("where") or query["owner"])
    name = query["name"]
    if query["kind"] == "kwarg":
        params = answer.get("params")
        if isinstance(params, list) and params:
            return f"{where}() takes: {', '.join(map(str, params))} — there is no {name!r}."
        return None
    close_names = answer.get("close")
    if not isinstance(close_names, list):
        return None
    if query["kind"] == "toplevel":
        if close_names:
            return f"{name!r} is not installed; installed modules with similar names: " + ", ".join(
                map(str, close_names)
            )
        return f"{name!r} is not installed in the sandbox; use one of the listed libraries"
    if close_names:
        return f"{where} has no {name!r}; the real names closest to it are: " + ", ".join(
            map(str, close_names)
        )
    return f"{where} has no {name!r} (and nothing with a similar name); use a different API"


def parse_answer(stdout: str) -> dict[str, object]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("@@HINT@@"):
            try:
                value = json.loads(line[len("@@HINT@@") :])
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


def hint_for(failure: Failure, script: str, run_script: Callable[[str], str]) -> str | None:
    """The hint for ``failure``: a known trap's fixed text, else the real names from a sandbox.

    ``run_script(code) -> stdout`` runs our introspection program in a fresh sandbox; it is
    only called when the failure is one introspection can explain.
    """
    trap = known_trap(failure)
    query = query_for(failure)
    found: str | None = None
    if query is not None:
        try:
            found = format_hint(
                query, parse_answer(run_script(introspection_script(query, script)))
            )
        except Exception:  # a hint is a bonus: never let it fail the repair loop
            found = None
    # the known trap first: it says what to do; the names found follow as a separate sentence
    text = " ".join(part.rstrip(".") + "." for part in (trap, found) if part)
    return text[:MAX_HINT_CHARS] or None

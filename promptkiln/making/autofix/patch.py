"""Deterministic fixes to a generated script before it runs: the mistakes no retry should cost.

Small models often write a correct script that uses ``pd``, ``plt`` or ``Paragraph`` without
importing it, or saves ``fig`` without ever creating one. Each of those is a certain
``NameError``, and asking the model again costs a whole generation (and often brings another
forgotten import). :func:`patch` adds what is missing, only where the name is used and defined
nowhere in the script, so a fix can never change a script that would have run. Every change is
reported (the caller records it on the attempt and in progress output).

A pure function: the script is parsed, never executed or imported.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Names a script uses by convention, and the import that defines each. A list means "ask
#: :func:`_resolve`": the name is ambiguous between libraries (``Inches``: docx or pptx).
_IMPORTS: dict[str, str] = {
    "plt": "import matplotlib.pyplot as plt",
    "mpl": "import matplotlib as mpl",
    "matplotlib": "import matplotlib",
    "pd": "import pandas as pd",
    "pandas": "import pandas",
    "numpy": "import numpy",
    "openpyxl": "import openpyxl",
    "docx": "import docx",
    "pptx": "import pptx",
    "BytesIO": "from io import BytesIO",
    "StringIO": "from io import StringIO",
    "np": "import numpy as np",
    "sns": "import seaborn as sns",
    "pa": "import pyarrow as pa",
    "pq": "import pyarrow.parquet as pq",
    "stats": "from scipy import stats",
    "Path": "from pathlib import Path",
    "date": "from datetime import date",
    "timedelta": "from datetime import timedelta",
    "defaultdict": "from collections import defaultdict",
    "Counter": "from collections import Counter",
    "OrderedDict": "from collections import OrderedDict",
    "namedtuple": "from collections import namedtuple",
    "escape": "from xml.sax.saxutils import escape",
    "Workbook": "from openpyxl import Workbook",
    "load_workbook": "from openpyxl import load_workbook",
    "get_column_letter": "from openpyxl.utils import get_column_letter",
    "Font": "from openpyxl.styles import Font",
    "PatternFill": "from openpyxl.styles import PatternFill",
    "Alignment": "from openpyxl.styles import Alignment",
    "Border": "from openpyxl.styles import Border",
    "Side": "from openpyxl.styles import Side",
    "BarChart": "from openpyxl.chart import BarChart",
    "LineChart": "from openpyxl.chart import LineChart",
    "PieChart": "from openpyxl.chart import PieChart",
    "ScatterChart": "from openpyxl.chart import ScatterChart",
    "Reference": "from openpyxl.chart import Reference",
    "Document": "from docx import Document",
    "WD_ALIGN_PARAGRAPH": "from docx.enum.text import WD_ALIGN_PARAGRAPH",
    "Presentation": "from pptx import Presentation",
    "CategoryChartData": "from pptx.chart.data import CategoryChartData",
    "ChartData": "from pptx.chart.data import CategoryChartData as ChartData",
    "XL_CHART_TYPE": "from pptx.enum.chart import XL_CHART_TYPE",
    "XL_LEGEND_POSITION": "from pptx.enum.chart import XL_LEGEND_POSITION",
    "SimpleDocTemplate": "from reportlab.platypus import SimpleDocTemplate",
    "Paragraph": "from reportlab.platypus import Paragraph",
    "Spacer": "from reportlab.platypus import Spacer",
    "Table": "from reportlab.platypus import Table",
    "TableStyle": "from reportlab.platypus import TableStyle",
    "PageBreak": "from reportlab.platypus import PageBreak",
    "KeepTogether": "from reportlab.platypus import KeepTogether",
    "getSampleStyleSheet": "from reportlab.lib.styles import getSampleStyleSheet",
    "ParagraphStyle": "from reportlab.lib.styles import ParagraphStyle",
    "letter": "from reportlab.lib.pagesizes import letter",
    "A4": "from reportlab.lib.pagesizes import A4",
    "landscape": "from reportlab.lib.pagesizes import landscape",
    "inch": "from reportlab.lib.units import inch",
    "cm": "from reportlab.lib.units import cm",
    "mm": "from reportlab.lib.units import mm",
    "canvas": "from reportlab.pdfgen import canvas",
    "ImageDraw": "from PIL import ImageDraw",
    "ImageFont": "from PIL import ImageFont",
}

#: Standard-library modules a script may use without importing them.
_STDLIB = {
    "os", "io", "re", "sys", "json", "csv", "math", "random", "statistics", "textwrap",
    "string", "itertools", "collections", "functools", "time", "decimal", "calendar",
    "pathlib", "shutil", "zipfile", "base64", "hashlib", "uuid", "tempfile", "operator",
}  # fmt: skip

_DOCX_PPTX = {
    "Inches": ("from docx.shared import Inches", "from pptx.util import Inches"),
    "Pt": ("from docx.shared import Pt", "from pptx.util import Pt"),
    "Cm": ("from docx.shared import Cm", "from pptx.util import Cm"),
    "Emu": ("from docx.shared import Emu", "from pptx.util import Emu"),
    "RGBColor": ("from docx.shared import RGBColor", "from pptx.dml.color import RGBColor"),
}


@dataclass
class Patched:
    """The script to run and the fixes made to it (empty when it is unchanged)."""

    script: str
    fixes: list[str] = field(default_factory=list)


def patch(
    script: str,
    *,
    size: tuple[int | None, int | None] | None = None,
    planned: Mapping[str, object] | None = None,
) -> Patched:
    """``script`` with its certain mistakes fixed; unchanged when it does not parse.

    ``size``: the pixel width and height the request states for a raster image (either may
    be None); matplotlib calls are set to produce it (:mod:`promptkiln.making.autofix.size`).
    ``planned``: values the plan gives names the format notes use (``title``, ``chart_title``,
    ``header``); a script that uses one without defining it gets the plan's value.
    """
    try:
        tree = ast.parse(script)
    except (SyntaxError, ValueError):
        return Patched(script)
    fixes: list[str] = []
    if size is not None:
        from promptkiln.making.autofix.size import fix_size

        sized, size_fixes = fix_size(script, tree, *size)
        try:
            tree, script = ast.parse(sized), sized
            fixes += size_fixes
        except (SyntaxError, ValueError):  # an edit the source's layout did not allow
            pass
    from promptkiln.making.autofix.json_dump import HELPER, fix_json

    helper = False
    dumped, json_fixes = fix_json(script, tree)
    if json_fixes:
        try:
            tree, script = ast.parse(dumped), dumped
            fixes += json_fixes
            helper = True
        except (SyntaxError, ValueError):
            pass
    lines = script.splitlines(keepends=True)
    names = _defined_and_used(tree)  # one walk of the tree serves every check below
    imports = _missing_imports(tree, names)
    inserts: dict[int, list[str]] = {}
    if imports:
        inserts.setdefault(_import_line(tree), []).extend(imports)
        fixes.append("added " + "; ".join(imports))
    if helper:
        inserts.setdefault(_import_line(tree), []).append(HELPER)
    for name, definition in (("fig", "fig = plt.gcf()"), ("ax", "ax = plt.gca()")):
        first = _first_use_of_undefined(tree, name, names)
        if first is not None and _has_plt(tree, imports):
            inserts.setdefault(first, []).append(definition)
            fixes.append(f"added `{definition}` before the first use of {name}")
    first = _first_use_of_undefined(tree, "last", names)
    if first is not None and "ws" in names[0] and "openpyxl" in _imported_modules(tree):
        # the xlsx note's name for the last data row, used without its line
        inserts.setdefault(first, []).append("last = ws.max_row")
        fixes.append("added `last = ws.max_row` before the first use of last")
    first = _first_use_of_undefined(tree, "styles", names)
    if first is not None and "reportlab" in _imported_modules(tree):
        definition = "styles = getSampleStyleSheet()"
        if "getSampleStyleSheet" not in names[0]:
            definition = f"{_IMPORTS['getSampleStyleSheet']}\n{definition}"
        inserts.setdefault(first, []).append(definition)
        fixes.append("added `styles = getSampleStyleSheet()` before the first use of styles")
    for name, value in (planned or {}).items():
        first = _first_use_of_undefined(tree, name, names)
        if first is not None:
            definition = f"{name} = {value!r}"
            inserts.setdefault(first, []).append(definition)
            fixes.append(f"added `{definition}` (the plan's) before the first use of {name}")
    if not fixes:
        return Patched(script)
    out: list[str] = []
    for number, line in enumerate(lines, 1):
        for text in inserts.get(number, []):
            indent = re.match(r"[ \t]*", line)
            out.append(f"{indent.group(0) if indent and number > 1 else ''}{text}\n")
        out.append(line)
    for text in inserts.get(len(lines) + 1, []):
        out.append(text + "\n")
    return Patched("".join(out), fixes)


# -- the name analysis ------------------------------------------------------------------------


def _defined_and_used(tree: ast.Module) -> tuple[set[str], set[str]]:
    defined: set[str] = set(dir(builtins))
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                defined.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            defined.update(node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            defined.add(node.name)
    return defined, used


def _imported_modules(tree: ast.Module) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _missing_imports(tree: ast.Module, names: tuple[set[str], set[str]]) -> list[str]:
    defined, used = names
    missing = sorted(used - defined)
    if not missing:
        return []
    libs = _imported_modules(tree)
    out: list[str] = []
    for _ in range(2):  # twice: an added reportlab import settles an ambiguous `colors`
        for name in missing:
            line = _resolve(name, tree, libs)
            if line and line not in out:
                out.append(line)
                libs.add(line.split()[1].split(".")[0])
    return out


def _resolve(name: str, tree: ast.Module, libs: set[str]) -> str | None:
    if name in _IMPORTS:
        return _IMPORTS[name]
    if name in _STDLIB:
        return f"import {name}"
    if name in _DOCX_PPTX:
        docx_line, pptx_line = _DOCX_PPTX[name]
        if "pptx" in libs and "docx" not in libs:
            return pptx_line
        if "docx" in libs and "pptx" not in libs:
            return docx_line
        return None
    if name == "colors":  # reportlab's colour module, when the script is a reportlab one
        return "from reportlab.lib import colors" if "reportlab" in libs else None
    if name == "Image":  # reportlab's flowable or PIL's module
        if "reportlab" in libs:
            return "from reportlab.platypus import Image"
        return "from PIL import Image" if "PIL" in libs else None
    if name == "datetime":
        attrs = set(_attributes_of(tree, "datetime"))
        if attrs & {"date", "datetime", "timedelta", "time", "timezone"}:
            return "import datetime"
        return "from datetime import datetime"
    return None


def _attributes_of(tree: ast.Module, name: str) -> Iterable[str]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == name
        ):
            yield node.attr


def _has_plt(tree: ast.Module, added: list[str]) -> bool:
    """Whether ``plt`` is imported at the top level (or is being added there)."""
    top = any(
        isinstance(stmt, ast.Import | ast.ImportFrom)
        and any((a.asname or a.name) == "plt" for a in stmt.names)
        for stmt in tree.body
    )
    return top or any(line.endswith(" as plt") for line in added)


def _first_use_of_undefined(
    tree: ast.Module, name: str, names: tuple[set[str], set[str]]
) -> int | None:
    """The line of the top-level statement that first uses ``name``, if the script never
    defines it anywhere."""
    defined, used = names
    if name in defined or name not in used:
        return None
    for stmt in tree.body:
        if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(stmt)):
            return stmt.lineno
    return None


def _import_line(tree: ast.Module) -> int:
    """Where added imports go: after a docstring and ``from __future__`` imports."""
    line = 1
    for stmt in tree.body:
        is_doc = (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        )
        is_future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        if is_doc or is_future:
            line = (stmt.end_lineno or stmt.lineno) + 1
        else:
            break
    return line

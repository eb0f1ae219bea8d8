"""A matplotlib script made to produce the pixel size the request states.

Pixel size is ``figsize × dpi``. Small models ask for the right ``figsize`` and then save at
``dpi=300`` (or 1200), crop with ``bbox_inches="tight"``, or never set a size at all. Given the
size the prompt states, :func:`fix_size` rewrites the literal values in ``plt.figure``,
``plt.subplots`` and ``savefig`` calls so that the saved image is exactly that size: ``figsize``
becomes the size in hundreds of pixels, every ``dpi`` becomes 100, ``bbox_inches="tight"``
becomes ``None``. Only calls written against matplotlib's API are touched; a script that already
produces the size is left as it is.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

_FIGURE_CALLS = {"figure", "subplots", "subplot_mosaic"}
_DPI = 100


@dataclass(frozen=True)
class _Edit:
    line: int
    col: int
    end_line: int
    end_col: int
    text: str


def fix_size(
    script: str, tree: ast.Module, width: int | None, height: int | None
) -> tuple[str, list[str]]:
    """``script`` with its figure sizes, dpi and tight bboxes set for ``width`` × ``height``
    pixels (either may be None: that side keeps the figure's aspect), and what was changed."""
    edits: list[_Edit] = []
    fixes: list[str] = []
    figures = 0
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        attr = node.func.attr
        if attr in _FIGURE_CALLS and _on_pyplot(node.func.value):
            figures += 1
            edits += _figure_edits(node, width, height, fixes)
        elif attr == "savefig":
            edits += _savefig_edits(node, fixes)
    if not figures and (start := _implicit_figure(tree, width, height)) is not None:
        edits.append(start)  # plt.plot() straight away: pyplot's default 640x480 figure
        fixes.append("added a figure of the asked size after importing pyplot")
    if not edits:
        return script, []
    return _apply(script, edits), sorted(set(fixes))


def _on_pyplot(value: ast.expr) -> bool:
    """``plt.figure``/``pyplot.subplots``/``matplotlib.pyplot.figure``."""
    if isinstance(value, ast.Name):
        return value.id in {"plt", "pyplot"}
    return isinstance(value, ast.Attribute) and value.attr == "pyplot"


def _number(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    return None


def _figure_edits(
    call: ast.Call, width: int | None, height: int | None, fixes: list[str]
) -> list[_Edit]:
    edits: list[_Edit] = []
    figsize = next((kw for kw in call.keywords if kw.arg == "figsize"), None)
    aspect = 0.75  # matplotlib's default 6.4 x 4.8
    if figsize is not None and isinstance(figsize.value, ast.Tuple | ast.List):
        sides = [_number(e) for e in figsize.value.elts]
        if len(sides) == 2 and sides[0] and sides[1]:
            aspect = sides[1] / sides[0]
    w = width / _DPI if width else (height / _DPI) / aspect if height else None
    h = height / _DPI if height else (width / _DPI) * aspect if width else None
    if w is None or h is None:
        return edits
    wanted = f"({w:g}, {h:g})"
    if figsize is not None:
        if ast.unparse(figsize.value).replace(".0", "") != wanted.replace(".0", ""):
            edits.append(_at(figsize.value, wanted))
            fixes.append(f"figsize set to {wanted} (the asked size at dpi {_DPI})")
    elif not call.args:  # plt.figure() / plt.subplots(): add the size
        edits.append(_before_close(call, f"figsize={wanted}"))
        fixes.append(f"figsize set to {wanted} (the asked size at dpi {_DPI})")
    for kw in call.keywords:
        if kw.arg == "dpi" and _number(kw.value) != _DPI:
            edits.append(_at(kw.value, str(_DPI)))
            fixes.append(f"figure dpi set to {_DPI}")
    return edits


def _implicit_figure(tree: ast.Module, width: int | None, height: int | None) -> _Edit | None:
    """``plt.figure(figsize=...)`` right after a top-level ``import matplotlib.pyplot as plt``."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Import) and any(
            a.name == "matplotlib.pyplot" and a.asname == "plt" for a in stmt.names
        ):
            call = ast.parse("plt.figure()").body[0]
            assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
            sized = _figure_edits(call.value, width, height, [])
            if not sized:
                return None
            assert stmt.end_lineno is not None and stmt.end_col_offset is not None
            text = "\nplt.figure(" + sized[0].text + ")"
            return _Edit(
                stmt.end_lineno, stmt.end_col_offset, stmt.end_lineno, stmt.end_col_offset, text
            )
    return None


def _savefig_edits(call: ast.Call, fixes: list[str]) -> list[_Edit]:
    edits: list[_Edit] = []
    for kw in call.keywords:
        if kw.arg == "dpi" and _number(kw.value) != _DPI:
            edits.append(_at(kw.value, str(_DPI)))
            fixes.append(f"savefig dpi set to {_DPI} (figsize x dpi is the pixel size)")
        elif (
            kw.arg == "bbox_inches"
            and isinstance(kw.value, ast.Constant)
            and kw.value.value == "tight"
        ):
            edits.append(_at(kw.value, "None"))
            fixes.append('savefig bbox_inches="tight" dropped (it crops the asked size)')
    return edits


def _at(node: ast.expr, text: str) -> _Edit:
    assert node.end_lineno is not None and node.end_col_offset is not None
    return _Edit(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text)


def _before_close(call: ast.Call, text: str) -> _Edit:
    """Insert ``text`` as the last argument of a call written ``name(...)`` (no trailing
    comma: the edit is dropped when the result does not parse)."""
    assert call.end_lineno is not None and call.end_col_offset is not None
    sep = ", " if call.args or call.keywords else ""
    col = call.end_col_offset - 1  # the closing parenthesis
    return _Edit(call.end_lineno, col, call.end_lineno, col, sep + text)


def _apply(script: str, edits: list[_Edit]) -> str:
    """Apply edits (ast positions: 1-based lines, UTF-8 byte columns) from the last one up."""
    lines = script.splitlines(keepends=True)
    for e in sorted(edits, key=lambda e: (e.line, e.col), reverse=True):
        first = lines[e.line - 1].encode()
        last = lines[e.end_line - 1].encode()
        merged = first[: e.col] + e.text.encode() + last[e.end_col :]
        lines[e.line - 1 : e.end_line] = [merged.decode()]
    return "".join(lines)

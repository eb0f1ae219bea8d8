"""``json.dump`` of numpy and pandas values, made to work.

``json.dump({"total": df.revenue.sum()}, f)`` raises ``TypeError: Object of type int64 is not JSON
serializable`` — the most common crash of a small model's JSON script, and one its repairs often
move around rather than fix. :func:`fix_json` gives each ``json.dump``/``json.dumps`` call without
a ``default=`` or ``cls=`` a ``default`` that turns numpy/pandas values into plain ones and dates
into ISO strings. ``default`` is only consulted for objects json cannot encode, so the output of a
call that already worked is byte for byte the same.
"""

from __future__ import annotations

import ast

from promptkiln.making.autofix.size import _apply, _before_close, _Edit

HELPER_NAME = "_promptkiln_json_default"
HELPER = f'''def {HELPER_NAME}(value):
    """JSON for numpy/pandas values and dates (added by promptkiln before the script ran)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
'''


def fix_json(script: str, tree: ast.Module) -> tuple[str, list[str]]:
    """``script`` with ``default=`` added to its json.dump(s) calls, and what was changed."""
    edits: list[_Edit] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("dump", "dumps")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "json"
            and node.args
            and not any(kw.arg in ("default", "cls") or kw.arg is None for kw in node.keywords)
        ):
            edits.append(_before_close(node, f"default={HELPER_NAME}"))
    if not edits:
        return script, []
    return _apply(script, edits), ["json.dump gets a default= for numpy/pandas values and dates"]

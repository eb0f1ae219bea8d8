"""How an unmet requirement comes back to the model: what was asked, what was found, and the
call of the requested format's library that meets it (small models copy an exact call)."""

from __future__ import annotations

from collections.abc import Sequence

from promptkiln.checks import requirements_facts, requirements_text
from promptkiln.checks.requirement import Outcome, Requirement


def feedback(outcomes: Sequence[Outcome], formats: Sequence[str] = ()) -> list[str]:
    """One repair line per unmet requirement: what was asked, what was found, how to meet it
    (with the call of the library of the requested ``formats`` where that helps)."""
    lines = []
    for o in outcomes:
        if o.met:
            continue
        line = f"the prompt asks that {o.requirement.text}, but {o.detail or 'it is not so'}"
        advice = how_to_meet(o.requirement, formats)
        lines.append(f"{line} ({advice})" if advice else line)
    return lines


#: The line that writes a given text into a document, per format (small models copy a line).
_WRITE_TEXT = {
    "pdf": 'story.append(Paragraph({text}, styles["Normal"]))',
    "docx": "doc.add_paragraph({text})",
    "pptx": "body.add_paragraph().text = {text}",
}


#: The call that adds a table, a native chart or a picture, per format.
_OBJECT_CALLS = {
    ("table", "docx"): 'a real Word table, not paragraphs: table = doc.add_table(rows=1, '
    'cols=len(df.columns), style="Table Grid"), the header in table.rows[0].cells, then '
    "table.add_row().cells per data row",
    ("table", "pptx"): "shape = slide.shapes.add_table(len(rows), len(rows[0]), Inches(0.5), "
    "Inches(1.5), Inches(9), Inches(3)), then shape.table.cell(r, c).text = ... for each cell",
    ("chart", "xlsx"): "a native chart: chart = BarChart(); chart.add_data(Reference(ws, "
    "min_col=2, min_row=1, max_row=last), titles_from_data=True); ws.add_chart(chart, 'E2')",
    ("chart", "pptx"): "a native chart: data = CategoryChartData(); data.categories = [...]; "
    "data.add_series('name', [...]); slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, "
    "Inches(1), Inches(1.5), Inches(8), Inches(5), data)",
    ("image", "docx"): "draw the chart with matplotlib, fig.savefig(buf, format='png') into "
    "buf = io.BytesIO(), buf.seek(0), then doc.add_picture(buf, width=Inches(6))",
}  # fmt: skip


def how_to_meet(req: Requirement, formats: Sequence[str] = ()) -> str:
    """The API that meets a requirement, in one clause (small models need the exact call)."""
    p = req.params
    if req.kind == "pages":
        n = int(p.get("n", 1))
        if n == 1 and p.get("op", "==") == "==":
            return (
                "one page: no PageBreak(), and only what fits: a short summary table (totals "
                "per group, not every input row) and a chart at most 250 points high"
            )
        return (
            f"in reportlab every page ends where the story has a PageBreak(): for {n} pages put "
            f"{n - 1} PageBreak() into the story, one after each page's content except the last"
        )
    if req.kind == "slides":
        return f"call prs.slides.add_slide(...) once per slide: {p.get('n')} times"
    if req.kind == "size":
        w, h = p.get("width"), p.get("height")
        if w and h:
            return (
                f"pixels = figsize x dpi: plt.subplots(figsize=({w / 100:g}, {h / 100:g})) and "
                'fig.savefig(..., dpi=100), without bbox_inches="tight"'
            )
        return 'pixels = figsize x dpi: save with dpi=100, without bbox_inches="tight"'
    if req.kind == "text":
        calls = [_WRITE_TEXT[f].format(text=_quote(p.get("text", ""))) for f in formats
                 if f in _WRITE_TEXT]  # fmt: skip
        if calls:
            return f"write exactly {p.get('text')!r} into the file, the words themselves, " + (
                f"not a variable: e.g. {calls[0]}"
            )
        return f"write exactly {p.get('text')!r} into the file, e.g. as its title or a heading"
    if req.kind == "sheet":
        return f"ws.title = {p.get('name')!r} or wb.create_sheet({p.get('name')!r})"
    if req.kind == "formula":
        fns = p.get("functions") or ["SUM"]
        return f'write the formula as a string into the cell, e.g. ws["B8"] = "={fns[0]}(B2:B7)"'
    if req.kind == "columns":
        return "keep every column of the input, named as the input names it (df as it is read)"
    if req.kind == "frozen":
        return 'set ws.freeze_panes = "A2" (the row above A2, the header, stays in view)'
    if req.kind == "autofilter":
        return "set ws.auto_filter.ref = ws.dimensions (filter buttons on the header row)"
    if req.kind == "numformat":
        code = {"thousands": "#,##0", "percent": "0.0%", "currency": '"$"#,##0.00'}
        return (
            f"set each number cell's format: cell.number_format = '{code[p['format']]}' "
            "(for every cell of that column, after writing the values)"
        )
    if req.kind == "heading":
        return (
            f"a heading paragraph of its own: doc.add_heading({_quote(p.get('text', ''))}, level=1)"
        )
    if req.kind == "notes":
        return 'set slide.notes_slide.notes_text_frame.text = "..." right after adding each slide'
    if req.kind == "file":
        return f"save the file under exactly that name: {p.get('name')!r}"
    if req.kind in ("table", "chart", "image"):
        return _OBJECT_CALLS.get((req.kind, p.get("format", "")), "")
    if req.kind == "content":  # promptkiln.checks.content
        if p.get("check") == "unrecorded":
            return (
                "draw the chart with matplotlib and save it with fig.savefig(path) — not "
                "canvas.print_figure, PIL or another library"
            )
        if p.get("check") == "columns":
            return (
                "write the input's rows themselves with those columns, named as the input names "
                'them: e.g. df[[...]].to_json(path, orient="records") or df[[...]].to_csv(path, '
                "index=False)"
            )
        if p.get("check") == "placeholders":
            return (
                "name the chart and its axes in the request's own words: ax.set_title(...), "
                "ax.set_xlabel(...), ax.set_ylabel(...), never a stand-in like 'Title'"
            )
        return (
            "compute exactly these numbers from the input rows in the script (group by the "
            "column, aggregate as stated, sort as stated) and show them, one bar/line/slice or "
            "row per group"
        )
    if req.kind == "rows":
        return f"write exactly {p.get('n')} data rows after the header"
    return requirements_text.how_to_meet(req) or requirements_facts.how_to_meet(req)


def _quote(text: str) -> str:
    """``text`` as a Python string literal in double quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

"""promptkiln.making.autofix.patch: the certain NameErrors of a generated script, fixed before it runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptkiln.making.autofix.patch import patch

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def run_names(script: str) -> set[str]:
    """The names the import lines of a patched script bind (that each import works in the
    sandbox image is tests/integration/test_autofix_imports.py)."""
    names: set[str] = set()
    for line in script.splitlines():
        if m := re.match(r"(?:from \S+ )?import (\S+)(?: as (\w+))?$", line):
            names.add(m.group(2) or m.group(1).split(".")[0])
    return names


def test_forgotten_conventional_imports_are_added() -> None:
    script = "df = pd.DataFrame({'a': np.arange(3)})\nplt.plot(df.a)\nplt.savefig('a.png')\n"
    result = patch(script)
    assert "import pandas as pd" in result.script
    assert "import numpy as np" in result.script
    assert "import matplotlib.pyplot as plt" in result.script
    assert result.fixes and result.fixes[0].startswith("added ")
    assert {"pd", "np", "plt"} <= set(run_names(result.script))
    # the original lines follow, unchanged and in order
    assert result.script.endswith(script)


def test_a_library_used_as_a_module_without_its_import_gets_it() -> None:
    # the bundled model's third attempt at a memo, as it came back in the evaluation
    script = "doc = docx.Document()\ndoc.add_heading('Memo', 0)\ndoc.save('memo.docx')\n"
    result = patch(script)
    assert result.script == "import docx\n" + script
    assert result.fixes == ["added import docx"]
    buf = patch("b = BytesIO()\nb.write(b'x')\n")
    assert buf.script.startswith("from io import BytesIO\n")


def test_the_xlsx_notes_last_row_is_defined_when_the_script_uses_it_without_its_line() -> None:
    # the bundled model copied the note's chart lines but not `last = ws.max_row`
    script = (
        "from openpyxl import Workbook\n"
        "from openpyxl.chart import BarChart, Reference\n"
        "wb = Workbook()\nws = wb.active\nws.append(['a', 1])\n"
        "chart = BarChart()\n"
        "chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=last))\n"
        "wb.save('w.xlsx')\n"
    )
    result = patch(script)
    lines = result.script.splitlines()
    assert lines[lines.index("chart = BarChart()") + 1] == "last = ws.max_row"
    assert result.fixes == ["added `last = ws.max_row` before the first use of last"]
    exec(compile(result.script.replace("wb.save('w.xlsx')", ""), "s", "exec"), {})
    defined = script.replace("chart = BarChart()", "last = 1\nchart = BarChart()")
    assert patch(defined).script == defined  # a script that runs is never changed
    assert patch("last[0]\n").fixes == []  # no worksheet, no guess


def test_an_undefined_reportlab_stylesheet_is_made_before_its_first_use() -> None:
    # a multi-format request's PDF part, as the bundled model wrote it (skeletons were short)
    script = (
        "from reportlab.lib.pagesizes import A4\n"
        "from reportlab.platypus import Paragraph, SimpleDocTemplate\n"
        "title = 'Sales'\n"
        "story = [Paragraph(title, styles['Title'])]\n"
        "SimpleDocTemplate('s.pdf', pagesize=A4).build(story)\n"
    )
    result = patch(script)
    lines = result.script.splitlines()
    at = lines.index("story = [Paragraph(title, styles['Title'])]")
    assert lines[at - 2 : at] == [
        "from reportlab.lib.styles import getSampleStyleSheet",
        "styles = getSampleStyleSheet()",
    ]
    assert "getSampleStyleSheet" in run_names(result.script)
    assert result.fixes == ["added `styles = getSampleStyleSheet()` before the first use of styles"]
    # without reportlab, `styles` is the script's own business
    assert patch("print(styles)\n").script == "print(styles)\n"


def test_a_note_placeholder_used_undefined_takes_the_plans_value() -> None:
    from promptkiln.llm.plan_code import note_names
    from promptkiln.plan import Chart, OutputFile, Plan, Table

    table = Table(columns=["Item", "Qty", "Price"])
    chart = Chart(kind="bar", title="Units", values={"A": 1.0})
    plan = Plan(
        files=[OutputFile(name="i.pdf", title="Invoice 42", tables=[table], charts=[chart])]
    )
    planned = note_names(plan)
    assert planned == {"title": "Invoice 42", "chart_title": "Units",
                       "header": ["Item", "Qty", "Price"]}  # fmt: skip
    script = (
        "from reportlab.platypus import Paragraph, Table\n"
        "story = [Paragraph(title, styles['Title'])]\n"
        "story.append(Table([header] + [['Widget', 2, 10.0]]))\n"
    )
    result = patch(script, planned=planned)
    lines = result.script.splitlines()
    at = lines.index("story = [Paragraph(title, styles['Title'])]")
    assert lines[at - 1] == "title = 'Invoice 42'"
    assert "header = ['Item', 'Qty', 'Price']" in lines
    assert "added `title = 'Invoice 42'` (the plan's) before the first use of title" in result.fixes
    # a name the script defines is its own; one the plan gives twice is left to the model
    assert patch("title = 'X'\nprint(title)\n", planned=planned).fixes == []
    two = Plan(files=[OutputFile(name="a.pdf", title="A"), OutputFile(name="b.pdf", title="B")])
    assert "title" not in note_names(two)


def test_a_script_that_runs_is_never_changed() -> None:
    script = (
        "import pandas as pd\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nax.plot(pd.Series([1, 2]))\nfig.savefig('a.png')\n"
    )
    assert patch(script).script == script
    assert patch(script).fixes == []


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.md")), ids=lambda p: p.stem)
def test_the_format_skeletons_are_left_alone(template: Path) -> None:
    for block in re.findall(r"```python\n(.*?)```", template.read_text(), re.S):
        # the only change a working skeleton may get is json.dump's default= (same output)
        fixes = patch(block).fixes
        assert fixes in ([], ["json.dump gets a default= for numpy/pandas values and dates"]), (
            template.name
        )
        if template.stem == "png":  # the PNG skeleton makes 800x500: nothing to set
            assert patch(block, size=(800, 500)).fixes == []


def test_a_name_the_script_defines_itself_is_not_imported() -> None:
    script = "def pd(x):\n    return x\n\nprint(pd(1), np)\nnp = 2\n"
    assert patch(script).fixes == []


def test_names_used_only_inside_functions_are_imported_at_the_top() -> None:
    script = '"""A report."""\nfrom __future__ import annotations\n\ndef main():\n    return pd.DataFrame()\n\nmain()\n'
    result = patch(script)
    lines = result.script.splitlines()
    assert lines[:3] == [
        '"""A report."""',
        "from __future__ import annotations",
        "import pandas as pd",
    ]


def test_reportlab_names_and_their_colors() -> None:
    script = (
        "doc = SimpleDocTemplate('r.pdf', pagesize=letter)\n"
        "t = Table([['a']])\nt.setStyle(TableStyle([('GRID', (0, 0), (-1, -1), 1, colors.grey)]))\n"
        "doc.build([Paragraph('x', getSampleStyleSheet()['Title']), t])\n"
    )
    result = patch(script)
    scope = run_names(result.script)
    for name in ("SimpleDocTemplate", "letter", "Table", "TableStyle", "colors", "Paragraph"):
        assert name in scope, name
    assert "from reportlab.lib import colors" in result.script


@pytest.mark.parametrize(
    ("library", "expected"),
    [
        ("import docx", "from docx.shared import Inches"),
        ("import pptx", "from pptx.util import Inches"),
    ],
)
def test_inches_comes_from_the_library_in_use(library: str, expected: str) -> None:
    assert expected in patch(f"{library}\nwidth = Inches(2)\n").script


def test_an_ambiguous_name_with_no_library_in_sight_is_left_to_the_model() -> None:
    for script in ("width = Inches(2)\n", "c = colors.red\n", "im = Image.open('a.png')\n"):
        assert patch(script).fixes == [], script


def test_datetime_as_class_or_module() -> None:
    assert "from datetime import datetime" in patch("print(datetime.now())\n").script
    assert "import datetime\n" in patch("print(datetime.date.today())\n").script


def test_an_undefined_fig_or_ax_is_taken_from_pyplot() -> None:
    script = "import matplotlib.pyplot as plt\nplt.bar(['a'], [1])\nax.set_title('T')\nfig.savefig('a.png')\n"
    result = patch(script)
    lines = result.script.splitlines()
    assert lines[2] == "ax = plt.gca()" and lines[3] == "ax.set_title('T')"
    assert lines[4] == "fig = plt.gcf()" and lines[5] == "fig.savefig('a.png')"


def test_fig_is_not_invented_without_pyplot_at_the_top() -> None:
    script = "def main():\n    import matplotlib.pyplot as plt\n    fig.savefig('a.png')\n"
    assert not any("gcf" in f for f in patch(script).fixes)


def test_tight_bbox_is_dropped_only_when_a_size_is_asked() -> None:
    script = "import matplotlib.pyplot as plt\nplt.savefig('a.png', bbox_inches='tight')\n"
    assert patch(script).script == script
    result = patch(script, size=(800, 500))
    assert "plt.savefig('a.png', bbox_inches=None)" in result.script


def test_figsize_and_dpi_are_set_to_the_asked_pixels() -> None:
    script = (
        "import matplotlib.pyplot as plt\n"
        "plt.figure(figsize=(12, 6))\nplt.plot([1, 2])\nplt.savefig('v.png', dpi=1200)\n"
    )
    result = patch(script, size=(1200, 600))
    assert "plt.figure(figsize=(12, 6))" in result.script  # already right: untouched
    assert "plt.savefig('v.png', dpi=100)" in result.script
    result = patch(script, size=(800, 500))
    assert "plt.figure(figsize=(8, 5))" in result.script


def test_a_figure_without_a_size_gets_one() -> None:
    script = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nfig.savefig('a.png')\n"
    assert "plt.subplots(figsize=(9, 3))" in patch(script, size=(900, 300)).script
    script = "import matplotlib.pyplot as plt\nfig = plt.figure(dpi=300)\nfig.savefig('a.png')\n"
    out = patch(script, size=(900, 300)).script
    assert "plt.figure(dpi=100, figsize=(9, 3))" in out


def test_pyplot_used_without_a_figure_gets_one_of_the_asked_size() -> None:
    script = "import matplotlib.pyplot as plt\nplt.hist([1, 2, 2])\nplt.savefig('h.png', dpi=100)\n"
    lines = patch(script, size=(800, 400)).script.splitlines()
    assert lines[:3] == [
        "import matplotlib.pyplot as plt",
        "plt.figure(figsize=(8, 4))",
        "plt.hist([1, 2, 2])",
    ]


def test_one_stated_side_keeps_the_figure_aspect() -> None:
    script = "import matplotlib.pyplot as plt\nplt.figure(figsize=(10, 5))\nplt.savefig('a.png')\n"
    assert "figsize=(6, 3)" in patch(script, size=(600, None)).script
    assert "figsize=(8, 4)" in patch(script, size=(None, 400)).script


def test_a_size_that_is_already_right_changes_nothing() -> None:
    script = (
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(8, 5), dpi=100)\nfig.savefig('a.png', dpi=100)\n"
    )
    assert patch(script, size=(800, 500)).fixes == []


def test_a_script_that_does_not_parse_is_returned_as_it_is() -> None:
    assert patch("print(pd.x\n").script == "print(pd.x\n"


def test_json_dump_of_numpy_values_gets_a_default() -> None:
    script = (
        "import json\nd = {'a': 1}\njson.dump(d, open('a.json', 'w'), indent=2)\n"
        "print(json.dumps(d))\nprint(json.dumps(d, default=str))\n"
    )
    result = patch(script)
    assert result.script.count("default=_promptkiln_json_default") == 2
    assert "json.dumps(d, default=str)" in result.script  # its own default is kept
    scope: dict[str, object] = {}
    exec(result.script.split("import json")[0], scope)
    helper = scope["_promptkiln_json_default"]
    import datetime

    class Numberish:
        def tolist(self) -> list[int]:
            return [1, 2]

    assert helper(Numberish()) == [1, 2]  # type: ignore[operator]
    assert helper(datetime.date(2024, 1, 2)) == "2024-01-02"  # type: ignore[operator]

"""Every import :mod:`promptkiln.making.autofix.patch` can add works in the real sandbox image, and a script
that forgot its imports runs once patched (a fix can never add an import that fails)."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkiln.config import load_settings
from promptkiln.making.autofix.patch import _DOCX_PPTX, _IMPORTS, _STDLIB, patch
from promptkiln.making.pipeline import run_in_sandbox

pytestmark = [pytest.mark.docker]


def test_every_import_the_fixer_can_add_works_in_the_image(tmp_path: Path) -> None:
    lines = [*_IMPORTS.values(), *(f"import {m}" for m in sorted(_STDLIB))]
    lines += [line for pair in _DOCX_PPTX.values() for line in pair]
    lines += ["from reportlab.lib import colors", "from reportlab.platypus import Image"]
    lines += ["from PIL import Image", "import datetime", "from datetime import datetime"]
    script = "\n".join(lines) + "\nprint('imports ok')\n"
    run = run_in_sandbox(script.encode(), [], tmp_path / "out", load_settings())
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    assert "imports ok" in run.result.stdout.text


def test_a_script_that_forgot_its_imports_runs_once_patched(tmp_path: Path) -> None:
    script = (
        "df = pd.DataFrame({'q': ['Q1', 'Q2'], 'v': np.array([3.5, 4.25])})\n"
        "plt.figure(figsize=(6, 4))\nplt.bar(df.q, df.v)\nax.set_title('Revenue')\n"
        "fig.savefig('chart.png', bbox_inches='tight', dpi=100)\n"
        "doc = SimpleDocTemplate('r.pdf', pagesize=letter)\n"
        "t = Table([['Q', 'V'], ['Q1', '3.5']])\n"
        "t.setStyle(TableStyle([('GRID', (0, 0), (-1, -1), 0.5, colors.grey)]))\n"
        "doc.build([Paragraph('Report', getSampleStyleSheet()['Title']), t])\n"
        "json.dump({'total': df.v.sum(), 'values': df.v.values}, open('s.json', 'w'))\n"
    )
    settings = load_settings(limits={"timeout": 120})
    broken = run_in_sandbox(script.encode(), [], tmp_path / "broken", settings)
    assert broken.result.exit_code != 0 and "NameError" in broken.result.stderr.text
    fixed = patch(script, size=(600, 400))
    run = run_in_sandbox(fixed.script.encode(), [], tmp_path / "fixed", settings)
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    assert sorted(a.name for a in run.artifacts) == ["chart.png", "r.pdf", "s.json"]
    import json

    assert json.loads((tmp_path / "fixed" / "s.json").read_text()) == {
        "total": 7.75,
        "values": [3.5, 4.25],
    }
    from PIL import Image

    with Image.open(tmp_path / "fixed" / "chart.png") as im:
        assert im.size == (600, 400)  # the asked size: bbox_inches="tight" was dropped


def test_a_stylesheet_and_a_module_the_script_never_made_are_supplied(tmp_path: Path) -> None:
    script = (
        "from reportlab.platypus import Paragraph, SimpleDocTemplate\n"
        "SimpleDocTemplate('r.pdf').build([Paragraph('Sales', styles['Title'])])\n"
        "doc = docx.Document()\ndoc.add_heading('Memo', 0)\ndoc.save('m.docx')\n"
    )
    settings = load_settings(limits={"timeout": 120})
    fixed = patch(script)
    assert len(fixed.fixes) == 2, fixed.fixes
    run = run_in_sandbox(fixed.script.encode(), [], tmp_path / "fixed", settings)
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    assert sorted(a.name for a in run.artifacts) == ["m.docx", "r.pdf"]

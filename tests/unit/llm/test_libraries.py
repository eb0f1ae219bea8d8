"""The system prompt's library line: promptkiln's usual list, or what a template really has."""

from __future__ import annotations

from promptkiln.llm.libraries import DEFAULT_LIBRARIES, fallback_note, library_line, missing_for
from promptkiln.llm.prompts import render_system

#: The line as it read before it became a placeholder: promptkiln's own image is unchanged.
USUAL = (
    "reportlab, python-docx (import docx), python-pptx (import pptx), openpyxl, XlsxWriter, "
    "pandas, numpy, matplotlib, seaborn, pillow (import PIL), pypdf, pdfplumber, scipy, "
    "pyarrow (for Parquet)"
)
#: Some of what E2B's stock code-interpreter template has (no reportlab, no python-pptx).
STOCK = ["Pillow", "matplotlib", "pandas", "numpy", "openpyxl", "python_docx", "plotly",
         "scikit-learn", "attrs", "six", "ipykernel"]  # fmt: skip


def line(system: str) -> str:
    return next(ln for ln in system.splitlines() if "packages are installed" in ln)


def test_the_default_is_promptkilns_own_list() -> None:
    assert DEFAULT_LIBRARIES == USUAL
    assert line(render_system(["pdf"])).endswith(f"installed: {USUAL}.")


def test_a_templates_real_packages_replace_it() -> None:
    found = line(render_system(["pdf"], libraries=STOCK))
    assert "reportlab" not in found and "pptx" not in found
    assert found.endswith(
        "installed: python-docx (import docx), openpyxl, pandas, numpy, matplotlib, plotly, "
        "pillow (import PIL), scikit-learn (import sklearn)."
    )
    assert "attrs" not in found and "ipykernel" not in found  # dependencies are not named


def test_names_are_compared_as_pip_does() -> None:
    assert library_line(["PILLOW", "Python-Docx", "XlsxWriter"]) == (
        "python-docx (import docx), XlsxWriter, pillow (import PIL)"
    )


def test_a_template_with_none_of_them_names_what_it_has() -> None:
    assert library_line(["zeta", "Alpha"]) == "Alpha, zeta"
    assert library_line([]) == "(none)"


def test_a_pdf_without_reportlab_is_written_with_matplotlib() -> None:
    system = render_system(["pdf"], libraries=STOCK)
    assert "reportlab.platypus" not in system
    assert "reportlab is not installed here" in system and "PdfPages" in system
    assert "reportlab.platypus" in render_system(["pdf"])  # promptkiln's image: the usual note
    with_it = render_system(["pdf"], libraries=[*STOCK, "reportlab"])
    assert "reportlab.platypus" in with_it and "PdfPages" not in with_it


def test_what_a_format_misses() -> None:
    assert missing_for("pptx", STOCK) == "python-pptx"
    assert missing_for("pdf", STOCK) == "reportlab"
    assert fallback_note("pptx", STOCK) is None  # no other way: make warns the user instead
    assert missing_for("xlsx", STOCK) is None
    assert missing_for("parquet", ["fastparquet"]) is None
    assert missing_for("csv", []) is None

"""The system prompt's list of installed packages (``$libraries`` in ``templates/system.md``).

By default the list is promptkiln's own sandbox image (and E2B template): :data:`DEFAULT_LIBRARIES`.
When the sandbox is something else whose packages were looked up (E2B's stock
code-interpreter template, or any template in kernel mode: :mod:`promptkiln.sandbox.e2b_libraries`),
:func:`library_line` names the document-related packages it really has, in a fixed order and
with the import name where it differs, so the model is never told of one that is missing
(the stock template has no reportlab or python-pptx, for instance).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Distribution name (normalised) -> how the prompt names it; the order is the prompt's.
KNOWN: dict[str, str] = {
    "reportlab": "reportlab",
    "fpdf2": "fpdf2 (import fpdf)",
    "python-docx": "python-docx (import docx)",
    "python-pptx": "python-pptx (import pptx)",
    "openpyxl": "openpyxl",
    "xlsxwriter": "XlsxWriter",
    "xlrd": "xlrd",
    "pandas": "pandas",
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "seaborn": "seaborn",
    "plotly": "plotly",
    "kaleido": "kaleido (plotly image export)",
    "bokeh": "bokeh",
    "pillow": "pillow (import PIL)",
    "pypdf": "pypdf",
    "pdfplumber": "pdfplumber",
    "scipy": "scipy",
    "scikit-learn": "scikit-learn (import sklearn)",
    "scikit-image": "scikit-image (import skimage)",
    "opencv-python": "opencv-python (import cv2)",
    "opencv-python-headless": "opencv-python-headless (import cv2)",
    "sympy": "sympy",
    "networkx": "networkx",
    "statsmodels": "statsmodels",
    "pyarrow": "pyarrow (for Parquet)",
    "beautifulsoup4": "beautifulsoup4 (import bs4)",
    "markdown": "markdown",
    "jinja2": "jinja2",
}
#: Names listed when the template has none of the packages above.
MAX_OTHERS = 40
#: promptkiln's own image: what the built-in system prompt has always said.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "reportlab",
    "python-docx",
    "python-pptx",
    "openpyxl",
    "xlsxwriter",
    "pandas",
    "numpy",
    "matplotlib",
    "seaborn",
    "pillow",
    "pypdf",
    "pdfplumber",
    "scipy",
    "pyarrow",
)


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``Pillow`` -> ``pillow``."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def library_line(installed: Iterable[str]) -> str:
    """The packages of ``installed`` (distribution names) that the prompt names, in order."""
    have = {normalize(n) for n in installed}
    names = [label for dist, label in KNOWN.items() if dist in have]
    if "pyarrow" not in have and "fastparquet" in have:
        names.append("fastparquet (for Parquet)")
    if not names:  # none of the usual ones: name what is there, briefly
        names = sorted({n.strip() for n in installed if n.strip()}, key=str.lower)[:MAX_OTHERS]
    return ", ".join(names) or "(none)"


#: Format -> the distributions its note's skeleton imports (any one of a tuple will do).
NEEDS: dict[str, tuple[str, ...]] = {
    "pdf": ("reportlab",),
    "docx": ("python-docx",),
    "pptx": ("python-pptx",),
    "xlsx": ("openpyxl",),
    "parquet": ("pyarrow", "fastparquet"),
    "png": ("matplotlib",),
    "svg": ("matplotlib",),
    "jpg": ("matplotlib",),
}
#: The note that replaces a format's own when its package is missing but another way exists.
FALLBACK_NOTES: dict[str, tuple[str, str]] = {
    "pdf": (
        "matplotlib",
        "PDF (.pdf): reportlab is not installed here; write the PDF with matplotlib: "
        "`from matplotlib.backends.backend_pdf import PdfPages`, then per page "
        "`fig = plt.figure(figsize=(8.27, 11.69))`, text with `fig.text(x, y, s, wrap=True)` "
        "(x, y from 0 to 1), charts in `fig.add_axes([...])`, tables with `ax.table(...)` on "
        "an axis with `ax.axis('off')`, and `pdf.savefig(fig)`; "
        "`with PdfPages('report.pdf') as pdf:` around it.",
    ),
}


def missing_for(fmt: str, installed: Iterable[str]) -> str | None:
    """The distribution a format's note needs that ``installed`` lacks, or None."""
    needs = NEEDS.get(fmt)
    if not needs:
        return None
    have = {normalize(n) for n in installed}
    return None if any(n in have for n in needs) else needs[0]


def fallback_note(fmt: str, installed: Iterable[str]) -> str | None:
    """A note for ``fmt`` without its missing package, when the template has another way."""
    entry = FALLBACK_NOTES.get(fmt)
    if entry is None or normalize(entry[0]) not in {normalize(n) for n in installed}:
        return None
    return entry[1]


#: The library line of promptkiln's own image.
DEFAULT_LIBRARIES = library_line(DEFAULT_PACKAGES)

__all__ = [
    "DEFAULT_LIBRARIES",
    "DEFAULT_PACKAGES",
    "KNOWN",
    "NEEDS",
    "fallback_note",
    "library_line",
    "missing_for",
    "normalize",
]

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


#: The library line of promptkiln's own image.
DEFAULT_LIBRARIES = library_line(DEFAULT_PACKAGES)

__all__ = ["DEFAULT_LIBRARIES", "DEFAULT_PACKAGES", "KNOWN", "library_line", "normalize"]

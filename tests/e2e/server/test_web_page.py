"""The web page's HTTP side against a real `promptkiln serve`: the page and its assets are
served by the server (nothing external) under a strict CSP, and the server-side previews of a
PDF (first page as PNG) and an XLSX (first rows) are tenant-scoped."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from .conftest import create_key, wait_job

pytestmark = [pytest.mark.docker]

MAKE_DOCS = """
from reportlab.pdfgen import canvas
c = canvas.Canvas("report.pdf"); c.drawString(72, 720, "Quarterly report"); c.save()
import openpyxl
wb = openpyxl.Workbook(); ws = wb.active
ws.append(["quarter", "revenue"]); ws.append(["Q1", 2.1]); ws.append(["Q2", 2.8]); wb.save("t.xlsx")
"""


def test_page_assets_csp_and_previews(serve: Any) -> None:
    from PIL import Image

    server = serve("--workers", "1")
    acme, other = create_key("acme"), create_key("other")
    with server.client(acme) as http:
        page = http.get("/", headers={"Authorization": ""})
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp
        html = page.text
        # every asset comes from this server: no absolute URLs, no inline script
        assert not re.search(r"(src|href)=\"(https?:)?//", html)
        assert "<script>" not in html
        for src in re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html):
            assert http.get(src).status_code == 200
        js = http.get("/static/app.js").text
        for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in js
        assert http.get("/static/../app.py").status_code == 404

        job = http.post("/v1/jobs", json={"script": MAKE_DOCS}).json()
        done = wait_job(http, job["id"])
        assert done["status"] == "succeeded", done
        files = {f["name"]: f for f in done["files"]}
        png = http.get(f"/v1/files/{files['report.pdf']['id']}/preview")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(png.content)).size[0] == 800
        rows = http.get(f"/v1/files/{files['t.xlsx']['id']}/preview").json()["rows"]
        assert rows[:2] == [["quarter", "revenue"], ["Q1", "2.1"]]
        assert (
            http.get(
                f"/v1/files/{files['report.pdf']['id']}/preview", headers={"Authorization": ""}
            ).status_code
            == 401
        )
    with server.client(other) as http:
        assert http.get(f"/v1/files/{files['report.pdf']['id']}/preview").status_code == 404

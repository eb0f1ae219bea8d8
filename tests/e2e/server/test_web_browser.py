"""The web page in a real headless Chromium (the system's, driven by Playwright): upload a CSV,
ask for a chart (the scripted model answers with a chart script), see the preview, download the
file and check it. Real `promptkiln serve`, real litellm, real Docker."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import create_key

pytestmark = [pytest.mark.docker]

CHART = """```python
import csv
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = list(csv.DictReader(open("inputs/sales.csv")))
fig, ax = plt.subplots()
ax.bar([r["quarter"] for r in rows], [float(r["revenue"]) for r in rows])
fig.savefig("chart.png", metadata={"Software": None})
```"""


def chromium() -> str:
    """The system Chromium; skip (off CI) or fail (CI=true) when there is none."""
    for name in (os.environ.get("CHROMIUM_BIN", ""), "chromium", "chromium-browser"):
        found = shutil.which(name) if name else None
        if found:
            return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            "CI=true but no chromium found: make test installs it (apt-get install chromium)"
        )
    pytest.skip("no chromium found (apt-get install chromium, or set CHROMIUM_BIN)")


def test_page_upload_csv_chart_preview_download(
    serve: Any, openai_server: Any, tmp_path: Path
) -> None:
    from PIL import Image
    from playwright.sync_api import expect, sync_playwright

    browser_path = chromium()
    server = serve("--workers", "1")
    key = create_key("web")
    openai_server.enqueue(CHART)
    csv_path = tmp_path / "sales.csv"
    csv_path.write_text("quarter,revenue\nQ1,2.1\nQ2,2.8\nQ3,3.2\nQ4,3.9\n")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(accept_downloads=True, viewport={"width": 1100, "height": 1400})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server.url + "/")
            page.fill("#api-key", key)
            page.click("#key-form button")
            page.fill("#prompt", "Bar chart of revenue by quarter from sales.csv")
            page.check("input[name=format][value=png]")
            page.set_input_files("#inputs", str(csv_path))
            page.click("#make-button")
            image = page.locator("#files img")
            expect(image).to_be_visible(timeout=120_000)
            expect(page.locator("#status")).to_have_text("succeeded")
            # the preview really decoded: the browser knows its pixel size
            width = image.evaluate("img => img.naturalWidth")
            assert width > 100
            expect(page.locator("#history li").first).to_contain_text("Bar chart of revenue")
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            shot = os.environ.get("PAGE_SCREENSHOT")
            if shot:
                shutil.copy(tmp_path / "page.png", shot)
            with page.expect_download() as info:
                page.click("#files button")
            download = info.value
            assert download.suggested_filename == "chart.png"
            data = Path(download.path()).read_bytes()
        finally:
            browser.close()
    assert Image.open(io.BytesIO(data)).format == "PNG"
    assert Image.open(io.BytesIO(data)).size[0] > 100
    # the model was told about the uploaded CSV
    assert "sales.csv" in str(openai_server.history[0]["messages"])
    assert errors == []

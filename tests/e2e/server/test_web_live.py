"""The web page shows the script's output while it runs, and a failure with its failing line and
the script's stderr — in a real headless Chromium against a real `promptkiln serve` (the
pattern of test_web_browser.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import create_key
from .test_web_browser import chromium

pytestmark = [pytest.mark.docker]

SLOW = """```python
import time
print("step one", flush=True)
time.sleep(5)
print("step two")
open("table.csv", "w").write("a,b\\n1,2\\n")
```"""
FAILING = """```python
rows = [1, 2]
print("working on", len(rows), "rows")
total = rows[5]
```"""


def test_page_shows_live_output_and_an_explained_failure(
    serve: Any, openai_server: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    browser_path = chromium()
    server = serve("--workers", "1", "--attempts", "1")
    key = create_key("web-live")
    openai_server.enqueue(SLOW)
    openai_server.enqueue(FAILING)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server.url + "/")
            page.fill("#api-key", key)
            page.click("#key-form button")
            page.fill("#prompt", "A small table")
            page.check("input[name=format][value=csv]")
            page.click("#make-button")
            output = page.locator("#output")
            expect(output).to_contain_text("step one", timeout=120_000)
            # shown while the script sleeps: the job has not finished, "step two" not yet there
            assert page.locator("#status").text_content() != "succeeded"
            assert "step two" not in (output.text_content() or "")
            expect(page.locator("#status")).to_have_text("succeeded", timeout=60_000)
            expect(output).to_contain_text("step two")

            page.fill("#prompt", "Another table")
            page.click("#make-button")
            expect(page.locator("#status")).to_have_text("failed", timeout=120_000)
            error = page.locator("#error")
            expect(error).to_contain_text("failed at line 3 (total = rows[5]): IndexError")
            expect(error).to_contain_text("--- script stderr (last lines) ---")
            expect(error).to_contain_text("working on 2 rows")
            expect(output).to_contain_text("working on 2 rows")
        finally:
            browser.close()
    assert errors == []

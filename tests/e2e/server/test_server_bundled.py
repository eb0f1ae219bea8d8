"""The embedded default through the server: no model configured, so the bundled local model
writes the script; the Python client gets a real PNG. Slow (~10 tokens/s on 2 cores)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptkiln import Client

from .conftest import Server, create_key

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(1800)]


@pytest.fixture
def bundled_server(tmp_path: Path) -> Iterator[Server]:
    from promptkiln.config import load_settings
    from promptkiln.llm import local

    server = Server(tmp_path / "server.log", ["--timeout", "120", "--workers", "1"]).start()
    try:
        yield server
    finally:
        server.stop()
        local.stop_server(load_settings().home)


def test_bundled_model_chart_through_the_server(bundled_server: Server, tmp_path: Path) -> None:
    from PIL import Image

    assert "PROMPTKILN_MODEL" not in os.environ
    key = create_key("acme")
    lines: list[str] = []
    with Client(bundled_server.url, key, timeout=120) as client:
        result = client.make(
            "Bar chart of quarterly revenue: Q1=2.1M, Q2=2.8M, Q3=3.2M, Q4=3.9M",
            formats=["png"],
            out=tmp_path / "out",
            progress=lines.append,
        )
    pngs = [a for a in result.files if a.name.endswith(".png")]
    assert pngs, result.job
    with Image.open(pngs[0].path) as img:
        img.verify()
    assert result.job["result"]["model"].startswith("bundled")
    assert any("succeeded" in line for line in lines)

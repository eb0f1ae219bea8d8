"""A file that fails a check is not a success: exit 3 from the CLI, ``"status": "unmet"`` in
``--json``, the API job and the MCP result, each naming the failed check; ``--accept-unmet``
delivers it with exit 0. The scripted model answers a chart whose title is the placeholder
``Title`` (what the chart-facts hook in the real image reads), real litellm, real Docker."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import EmbeddedResource, TextContent

from .conftest import GOOD_PNG, cli, create_key, wait_job

pytestmark = [pytest.mark.docker]

PLACEHOLDER_PNG = GOOD_PNG.replace("fig.savefig(", 'ax.set_title("Title")\nfig.savefig(')
MODEL = ["--model", "openai/test-model", "--attempts", "1", "--timeout", "60"]


def test_cli_exits_3_and_keeps_the_files_unless_accept_unmet(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(PLACEHOLDER_PNG)
    out = tmp_path / "out"
    args = ["make", "Bar chart of quarterly revenue", "-f", "png", "-o", str(out),
            *MODEL, "--api-base", openai_server.url, "--json", "-q"]  # fmt: skip
    proc = cli(*args)
    assert proc.returncode == 3, proc.stderr
    manifest = json.loads(proc.stdout)
    assert manifest["status"] == "unmet" and manifest["files"] == []
    assert manifest["checks"] == [
        {"requirement": "revenue.png has real titles and labels, not placeholders",
         "kind": "content", "met": False, "detail": "its chart's title is 'Title'"}
    ]  # fmt: skip
    error = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(error) == 1 and "its chart's title is 'Title'" in error[0], proc.stderr
    assert "--accept-unmet to deliver them anyway" in error[0]
    assert not out.exists() or not any(out.iterdir())

    openai_server.enqueue(PLACEHOLDER_PNG)
    proc = cli(*args, "--accept-unmet")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert manifest["status"] == "unmet" and [f["name"] for f in manifest["files"]] == [
        "revenue.png"
    ]
    assert (out / "revenue.png").exists()

    openai_server.enqueue(GOOD_PNG)  # a right file: ok, exit 0
    proc = cli(*args[:5], str(tmp_path / "good"), *args[6:])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "ok"


def test_api_job_and_mcp_result_say_unmet(serve: Any, openai_server: Any, tmp_path: Path) -> None:
    server = serve("--attempts", "1")
    key = create_key("acme")
    openai_server.enqueue(PLACEHOLDER_PNG)
    with server.client(key) as http:
        created = http.post("/v1/jobs", json={"prompt": "Bar chart of revenue", "formats": ["png"]})
        assert created.status_code == 202, created.text
        job = wait_job(http, created.json()["id"])
    assert job["status"] == "unmet", job
    assert job["error"]["exit_code"] == 3 and job["error"]["code"] == "unmet"
    assert "its chart's title is 'Title'" in job["error"]["message"]
    assert job["files"] == []

    openai_server.enqueue(PLACEHOLDER_PNG)
    with server.client(key) as http:
        body = {"prompt": "Bar chart of revenue", "formats": ["png"], "accept_unmet": True}
        job = wait_job(http, http.post("/v1/jobs", json=body).json()["id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["status"] == "unmet" and job["result"]["checks"][0]["met"] is False
    assert [f["name"] for f in job["files"]] == ["revenue.png"]

    openai_server.enqueue(PLACEHOLDER_PNG)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "promptkiln.cli", "mcp", *MODEL, "--api-base", openai_server.url],
        env=dict(os.environ),
    )

    async def scenario() -> Any:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await session.call_tool(
                "make", {"prompt": "bar chart of revenue", "formats": ["png"]}
            )

    result = anyio.run(scenario)
    texts = [b.text for b in result.content if isinstance(b, TextContent)]
    assert texts[0].startswith("status: unmet"), texts
    status = json.loads(texts[1])
    assert status["status"] == "unmet"
    assert status["checks"][0]["detail"] == "its chart's title is 'Title'"
    assert not any(isinstance(b, EmbeddedResource) for b in result.content)

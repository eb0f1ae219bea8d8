"""Through the real server (and the MCP servers): the script's output streams as ``output``
events while it runs, and a failure explains itself — a failed job's error and an MCP tool
error carry the stderr and stdout tail and the failing line, as the CLI shows them."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

from .conftest import create_key, wait_job

pytestmark = [pytest.mark.docker]

SLOW = """import sys, time
print("first", flush=True)
print("oops", file=sys.stderr, flush=True)
time.sleep(3)
print("second")
open("t.csv", "w").write("a\\n1\\n")
"""
FAILING = """rows = [1, 2]
print("working on", len(rows), "rows")
total = rows[5]
"""
FAILING_ANSWER = f"```python\n{FAILING}```"


def sse(http: httpx.Client, job_id: str) -> list[tuple[float, str, dict[str, Any]]]:
    """Every event of the job as it arrives: (arrival time, type, data), until a final status."""
    seen: list[tuple[float, str, dict[str, Any]]] = []
    with http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=120) as response:
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                seen.append((time.monotonic(), kind, data))
                if kind == "status" and data.get("status") in ("succeeded", "failed"):
                    break
    return seen


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def check_explained(text: str) -> None:
    assert "failed at line 3 (`total = rows[5]`) raised IndexError: list index out of range" in text
    assert "--- script stderr (last lines) ---" in text and "Traceback" in text
    assert "--- script stdout (last lines) ---\nworking on 2 rows" in text
    assert "above" not in text


def test_output_events_while_the_job_runs_and_failed_jobs_explain_themselves(
    serve: Any, openai_server: Any, tmp_path: Path
) -> None:
    server = serve("--workers", "1")
    key = create_key("live")
    with server.client(key) as http:
        job = http.post("/v1/jobs", json={"script": SLOW}).json()
        events = sse(http, job["id"])
        outputs = [(at, d) for at, kind, d in events if kind == "output"]
        text = {
            s: "".join(d["text"] for _, d in outputs if d["stream"] == s)
            for s in ("stdout", "stderr")
        }
        assert text == {"stdout": "first\nsecond\n", "stderr": "oops\n"}
        first = next(at for at, d in outputs if "first" in d["text"])
        done = events[-1][0]
        assert events[-1][2]["status"] == "succeeded"
        assert done - first >= 2.0  # shown while the script slept, not at its end

        # a failed run job: the error says where, with the tails
        failed = wait_job(http, http.post("/v1/jobs", json={"script": FAILING}).json()["id"])
        assert failed["status"] == "failed"
        error = failed["error"]
        assert error["code"] == "script_failed"
        assert error["failing_line"] == {
            "line": 3,
            "code": "total = rows[5]",
            "exception": "IndexError: list index out of range",
        }
        assert error["stderr_tail"].endswith("IndexError: list index out of range")
        assert error["stdout_tail"] == "working on 2 rows"

        # the Python client raises with the same data as attributes
        from promptkiln import Client
        from promptkiln.client import RemoteJobFailed

        with Client(server.url, key) as client, pytest.raises(RemoteJobFailed) as info:
            client.run(FAILING, out=tmp_path / "never")
        assert not (tmp_path / "never").exists()
        assert info.value.failing_line == error["failing_line"]
        assert info.value.stderr_tail == error["stderr_tail"]

        # a failed make job: the last attempt's failing line
        openai_server.enqueue(FAILING_ANSWER)
        made = http.post("/v1/jobs", json={"prompt": "a csv", "formats": ["csv"], "attempts": 1})
        failed = wait_job(http, made.json()["id"])
        assert failed["status"] == "failed", failed
        assert failed["error"]["failing_line"]["line"] == 3
        assert "IndexError" in failed["error"]["stderr_tail"]

    # the same failure as an MCP tool error over the server's /mcp/
    async def over_http() -> Any:
        async with (
            httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=300) as client,
            streamable_http_client(server.url + "/mcp/", http_client=client) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session.call_tool("run", {"script": FAILING})

    result = anyio.run(over_http)
    assert result.isError
    check_explained(text_of(result))


def test_mcp_stdio_tool_errors_carry_the_failing_line_and_the_tails(openai_server: Any) -> None:
    openai_server.enqueue(FAILING_ANSWER)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "promptkiln.cli", "mcp", "--model", "openai/test-model",
              "--api-base", openai_server.url, "--timeout", "60", "--attempts", "1"],
        env=dict(os.environ),
    )  # fmt: skip

    async def scenario() -> tuple[Any, Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            run = await session.call_tool("run", {"script": FAILING})
            make = await session.call_tool("make", {"prompt": "a csv", "formats": ["csv"]})
            return run, make

    run, make = anyio.run(scenario)
    assert run.isError and make.isError
    check_explained(text_of(run))
    assert "the script exited with status 1" in text_of(run)
    check_explained(text_of(make))
    assert "no attempt out of 1" in text_of(make)

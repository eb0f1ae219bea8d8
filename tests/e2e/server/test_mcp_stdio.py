"""`promptkiln mcp` over stdio, driven by the MCP SDK's own client: real litellm against the
scripted OpenAI-compatible server, real Docker; files come back as MCP resources."""

from __future__ import annotations

import base64
import io
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import EmbeddedResource, TextContent

from .conftest import GOOD_PNG

pytestmark = [pytest.mark.docker]


def blobs(result: Any) -> dict[str, tuple[str, bytes]]:
    """name -> (media type, bytes) of the embedded resources of a tool result."""
    found: dict[str, tuple[str, bytes]] = {}
    for block in result.content:
        if isinstance(block, EmbeddedResource):
            res = block.resource
            name = str(res.uri).rsplit("/", 1)[-1]
            found[name] = (res.mimeType or "", base64.b64decode(res.blob))  # type: ignore[union-attr]
    return found


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def test_mcp_stdio_make_continue_list_fetch_run(openai_server: Any, tmp_path: Path) -> None:
    from PIL import Image

    openai_server.enqueue(GOOD_PNG)
    openai_server.enqueue(GOOD_PNG.replace("[2.1, 2.8, 3.2, 3.9]", "[1, 2, 3, 4]"))
    data = tmp_path / "data.csv"
    data.write_text("q,v\nQ1,1\n")
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "promptkiln.cli",
            "mcp",
            "--model",
            "openai/test-model",
            "--api-base",
            openai_server.url,
            "--timeout",
            "60",
        ],
        env=dict(os.environ),
    )

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            out["tools"] = tools
            out["make"] = await session.call_tool(
                "make",
                {"prompt": "bar chart of revenue", "formats": ["png"], "inputs": [str(data)]},
            )
            listed = await session.call_tool("list_sessions", {})
            out["sessions"] = listed.structuredContent
            sid = out["sessions"]["result"][0]["id"]
            out["continue"] = await session.call_tool(
                "continue", {"session": sid, "prompt": "other numbers"}
            )
            out["fetch"] = await session.call_tool(
                "fetch_file", {"session": sid, "name": "revenue.png", "version": 1}
            )
            out["run"] = await session.call_tool(
                "run", {"script": "open('t.csv','w').write('a,b\\n1,2\\n')\nprint('hi')"}
            )
            out["bad"] = await session.call_tool("make", {"prompt": "   "})
        return out

    out = anyio.run(scenario)
    assert out["tools"] == {"make", "run", "continue", "list_sessions", "fetch_file"}
    assert not out["make"].isError, text_of(out["make"])
    media, png = blobs(out["make"])["revenue.png"]
    assert media == "image/png"
    assert Image.open(io.BytesIO(png)).size[0] > 100
    # the model saw the uploaded input, exactly as with `promptkiln make -i`
    assert "data.csv" in str(openai_server.history[0]["messages"])
    assert len(out["sessions"]["result"]) == 1
    assert not out["continue"].isError, text_of(out["continue"])
    assert "turn 2" in text_of(out["continue"])
    v2 = blobs(out["continue"])["revenue.png"][1]
    assert v2 != png
    assert blobs(out["fetch"])["revenue.png"] == ("image/png", png)
    assert not out["run"].isError, text_of(out["run"])
    assert blobs(out["run"])["t.csv"][1] == b"a,b\n1,2\n"
    assert "hi" in text_of(out["run"])
    assert out["bad"].isError and "prompt is empty" in text_of(out["bad"])

"""The MCP server mounted on `promptkiln serve` (streamable HTTP at /mcp/), driven by the MCP
SDK's own client over real uvicorn on a loopback port: same API keys as /v1, tenant-scoped."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import EmbeddedResource, TextContent

from .conftest import GOOD_PNG, create_key

pytestmark = [pytest.mark.docker]


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def test_mcp_over_http_with_tenant_keys(serve: Any, openai_server: Any) -> None:
    server = serve("--workers", "1")
    acme, other = create_key("acme"), create_key("other")
    openai_server.enqueue(GOOD_PNG)
    url = server.url + "/mcp/"

    async def tools_for(key: str, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx.AsyncClient(headers=headers, timeout=300) as http,
            streamable_http_client(url, http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return [await session.call_tool(name, args) for name, args in calls]

    made, listed = anyio.run(
        tools_for,
        acme,
        [("make", {"prompt": "revenue chart", "formats": ["png"]}), ("list_sessions", {})],
    )
    assert not made.isError, text_of(made)
    blob = next(b for b in made.content if isinstance(b, EmbeddedResource))
    assert blob.resource.mimeType == "image/png"
    png = base64.b64decode(blob.resource.blob)  # type: ignore[union-attr]
    assert png.startswith(b"\x89PNG")
    uri = str(blob.resource.uri)
    assert uri.startswith(server.url + "/v1/files/file_") and uri.endswith("/content")
    # the resource's URI is the file's /v1 URL, readable with the same key
    with server.client(acme) as http:
        assert http.get(uri).content == png
    file_id = uri.split("/")[-2]
    sessions = listed.structuredContent["result"]
    assert len(sessions) == 1

    # another tenant sees nothing of acme's
    (fetched, others_sessions, cont) = anyio.run(
        tools_for,
        other,
        [
            ("fetch_file", {"file_id": file_id}),
            ("list_sessions", {}),
            ("continue", {"session": sessions[0]["id"], "prompt": "make it red"}),
        ],
    )
    assert fetched.isError and "file" in text_of(fetched)
    assert others_sessions.structuredContent["result"] == []
    assert cont.isError
    # no key, or a wrong one: 401 before MCP
    assert httpx.post(url, json={}).status_code == 401
    assert httpx.post(url, json={}, headers={"Authorization": "Bearer pk_nope"}).status_code == 401
    assert len(openai_server.history) == 1

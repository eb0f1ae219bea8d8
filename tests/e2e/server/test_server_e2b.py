"""`promptkiln serve` speaks the E2B protocol: the real, unmodified ``e2b`` and
``e2b-code-interpreter`` SDKs (sync and async) against a real server on loopback and real Docker.

The calls are the SDKs' documented examples: create, run a command (with streaming callbacks),
write and read files, list with a metadata filter, set a timeout, kill; ``run_code`` making a
chart. Keys are promptkiln keys; tenants never see each other's sandboxes; a sandbox dies at its
timeout, even when the server was killed with ``kill -9`` and started again.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import docker
import httpx
import pytest

from .conftest import create_key

pytestmark = [pytest.mark.docker, pytest.mark.slow]

e2b = pytest.importorskip("e2b", reason="the e2b extra is not installed")
e2b_ci = pytest.importorskip("e2b_code_interpreter", reason="the e2b extra is not installed")


@pytest.fixture
def e2b_url(monkeypatch: pytest.MonkeyPatch) -> Any:
    def point(url: str, key: str) -> None:
        for name in ("E2B_DOMAIN", "E2B_DEBUG"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("E2B_API_URL", url)
        monkeypatch.setenv("E2B_SANDBOX_URL", url)
        monkeypatch.setenv("E2B_API_KEY", key)

    return point


def _containers(sandbox_id: str) -> list[Any]:
    client = docker.from_env()
    try:
        return list(
            client.containers.list(filters={"label": f"promptkiln.e2b.sandbox={sandbox_id}"})
        )
    finally:
        client.close()


def test_the_sdks_documented_examples_run_unchanged(serve: Any, e2b_url: Any) -> None:
    from e2b import Sandbox
    from e2b.exceptions import AuthenticationException, NotFoundException
    from e2b_code_interpreter import Sandbox as CodeInterpreter

    key_a, key_b = create_key("alice"), create_key("bob")
    server = serve("--e2b-pool", "0")
    e2b_url(server.url, key_a)

    # wrong key: E2B's 401 body, before anything starts
    answer = httpx.post(
        f"{server.url}/v2/sandboxes",
        json={"templateID": "promptkiln-docs"},
        headers={"X-API-KEY": "pk_not_a_key"},
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == 401 and "Invalid API key" in answer.json()["message"]
    with pytest.raises(AuthenticationException):
        Sandbox.create(template="promptkiln-docs", api_key="pk_wrong")
    # an unknown template: E2B's error shape
    answer = httpx.post(
        f"{server.url}/v2/sandboxes", json={"templateID": "nope"}, headers={"X-API-KEY": key_a}
    )
    assert answer.status_code == 404 and answer.json() == {
        "code": 404,
        "message": "template 'nope' not found",
    }

    with Sandbox.create(template="promptkiln-docs", metadata={"app": "docs"}, timeout=120) as sbx:
        seen: list[str] = []
        result = sbx.commands.run("echo hello; echo oops >&2; id -u", on_stdout=seen.append)
        assert result.stdout == "hello\n1000\n" and result.stderr == "oops\n"
        assert "".join(seen) == "hello\n1000\n"
        sbx.files.write("/home/user/notes/hello.txt", "Hello, world!")
        assert sbx.files.read("/home/user/notes/hello.txt") == "Hello, world!"
        assert [e.name for e in sbx.files.list("/home/user/notes")] == ["hello.txt"]
        sbx.files.make_dir("/home/user/notes/old")
        sbx.files.rename("/home/user/notes/hello.txt", "/home/user/notes/old/hello.txt")
        assert sbx.files.exists("/home/user/notes/old/hello.txt")
        sbx.files.remove("/home/user/notes/old")
        assert [e.name for e in sbx.files.list("/home/user/notes")] == []
        # a background command reading its stdin: send_stdin, stream_input, close_stdin
        cat = sbx.commands.run("cat", background=True, stdin=True)
        sbx.commands.send_stdin(cat.pid, "line one\n")
        sbx.commands.stream_input(cat.pid, ["line ", b"two\n"])
        sbx.commands.close_stdin(cat.pid)
        assert cat.wait().stdout == "line one\nline two\n"
        quiet = sbx.commands.run("sleep 5", background=True)
        with pytest.raises(e2b.SandboxException, match="no open stdin"):
            sbx.commands.send_stdin(quiet.pid, "x")
        assert quiet.kill()  # SendSignal reaches the process
        with pytest.raises(e2b.TimeoutException):  # a command's own timeout
            sbx.commands.run("sleep 30", timeout=2)
        listed = Sandbox.list(query=e2b.SandboxQuery(metadata={"app": "docs"})).next_items()
        assert [s.sandbox_id for s in listed] == [sbx.sandbox_id]
        sbx.set_timeout(60)
        # the web page's list of a tenant's live sandboxes
        page = server.client(key_a).get("/v1/e2b/sandboxes").json()["data"]
        assert [s["id"] for s in page] == [sbx.sandbox_id]
        assert server.client(key_b).get("/v1/e2b/sandboxes").json()["data"] == []
        # tenant B neither lists nor reaches A's sandbox
        assert Sandbox.list(api_key=key_b).next_items() == []
        with pytest.raises(NotFoundException):
            Sandbox.connect(sbx.sandbox_id, api_key=key_b)
        stolen = httpx.post(
            f"{server.url}/process.Process/List",
            json={},
            headers={"E2b-Sandbox-Id": sbx.sandbox_id, "E2b-Sandbox-Port": "49983"},
        )
        assert stolen.status_code == 401
        sandbox_id = sbx.sandbox_id
    assert _containers(sandbox_id) == []  # the context manager killed it

    with CodeInterpreter.create(timeout=120) as ci:
        out: list[str] = []
        execution = ci.run_code(
            "import matplotlib.pyplot as plt\n"
            "plt.plot([1, 2, 3], [1, 4, 9])\n"
            "plt.show()\n"
            "print('drawn')\n"
            "x = 21\nx * 2",
            on_stdout=lambda m: out.append(m.line),
        )
        assert execution.error is None
        chart, main = execution.results
        assert base64.b64decode(chart.png).startswith(b"\x89PNG")
        assert main.is_main_result and main.text == "42"
        assert "".join(out) == "drawn\n"
        assert ci.run_code("x").text == "21"
        assert ci.run_code("1/0").error.name == "ZeroDivisionError"
        whoami = ci.run_code("import os; os.getuid()").text
        assert whoami == "1000"  # the kernel is not root

    runs = server.client(key_a).get("/v1/runs").json()["data"]
    kinds = {r["kind"] for r in runs}
    assert {"e2b-process", "e2b-cell"} <= kinds
    assert server.client(key_b).get("/v1/runs").json()["data"] == []


def test_reattaching_to_a_command_and_watching_a_directory(serve: Any, e2b_url: Any) -> None:
    """``commands.connect(pid)`` from a second client gets the output from then on and the exit
    code, while the starting handle still gets all of it; ``files.watch_dir`` (the sync SDK's
    polling watcher) sees a command create, write and remove files."""
    from e2b import CommandExitException, FilesystemEventType, Sandbox
    from e2b.exceptions import NotFoundException

    server = serve("--e2b-pool", "0")
    e2b_url(server.url, create_key("alice"))
    with Sandbox.create(template="promptkiln-docs", timeout=60) as sbx:
        script = (
            "echo early; touch started; while [ ! -e go ]; do sleep 0.1; done; "
            "for i in 1 2 3; do echo late $i; sleep 0.3; done; echo bye >&2; exit 3"
        )
        started = sbx.commands.run(script, background=True)
        while not sbx.files.exists("/home/user/started"):
            time.sleep(0.05)
        other = Sandbox.connect(sbx.sandbox_id)
        joined = other.commands.connect(started.pid)
        assert joined.pid == started.pid
        sbx.files.write("/home/user/go", "")
        with pytest.raises(CommandExitException) as late:
            joined.wait()
        assert late.value.exit_code == 3
        assert (late.value.stdout, late.value.stderr) == ("late 1\nlate 2\nlate 3\n", "bye\n")
        with pytest.raises(CommandExitException) as whole:
            started.wait()
        assert whole.value.stdout == "early\nlate 1\nlate 2\nlate 3\n"
        for pid in (started.pid, 999_999):  # ended, never there: envd's NOT_FOUND
            with pytest.raises(NotFoundException, match="not found"):
                sbx.commands.connect(pid)

        sbx.files.make_dir("/home/user/watched/sub")
        watch = sbx.files.watch_dir("/home/user/watched", recursive=True)
        sbx.commands.run(
            "cd watched && echo a > f.txt && sleep 0.5 && echo b >> f.txt && sleep 0.5 && "
            "chmod 600 f.txt && sleep 0.5 && touch sub/g && mv sub/g sub/h && sleep 0.5 && rm f.txt"
        )
        events: list[tuple[str, Any]] = []
        deadline = time.monotonic() + 5
        while ("f.txt", FilesystemEventType.REMOVE) not in events and time.monotonic() < deadline:
            events += [(e.name, e.type) for e in watch.get_new_events()]
            time.sleep(0.1)
        kinds = [t for n, t in events if n == "f.txt"]
        assert kinds[0] == FilesystemEventType.CREATE and kinds[-1] == FilesystemEventType.REMOVE
        assert {FilesystemEventType.WRITE, FilesystemEventType.CHMOD} <= set(kinds)
        assert ("sub/h", FilesystemEventType.CREATE) in events
        watch.stop()
        ps = "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"
        for _ in range(20):  # the poller is gone with the watcher
            if "python3 -c" not in sbx.commands.run(ps).stdout:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the watcher's poller still runs")


def test_the_async_sdks(serve: Any, e2b_url: Any) -> None:
    from e2b import AsyncSandbox
    from e2b_code_interpreter import AsyncSandbox as AsyncCodeInterpreter

    server = serve("--e2b-pool", "1")
    e2b_url(server.url, create_key("alice"))

    async def main() -> None:
        sbx = await AsyncSandbox.create(template="promptkiln-docs", timeout=60)
        chunks: list[str] = []
        result = await sbx.commands.run("for i in 1 2 3; do echo $i; done", on_stdout=chunks.append)
        assert result.stdout == "1\n2\n3\n" and "".join(chunks) == "1\n2\n3\n"
        seen: list[Any] = []
        watch = await sbx.files.watch_dir("/home/user", on_event=seen.append)
        await sbx.files.write("/home/user/a.txt", b"bytes")
        assert await sbx.files.read("/home/user/a.txt", format="bytes") == b"bytes"
        for _ in range(50):  # WatchDir's stream: the upload is a create (and a write)
            if "a.txt" in [e.name for e in seen]:
                break
            await asyncio.sleep(0.1)
        assert next(e.type for e in seen if e.name == "a.txt") == e2b.FilesystemEventType.CREATE
        await watch.stop()
        await sbx.kill()
        ci = await AsyncCodeInterpreter.create(timeout=60)
        execution = await ci.run_code("print('hi'); 6 * 7")
        assert "".join(execution.logs.stdout) == "hi\n" and execution.text == "42"
        await ci.kill()

    asyncio.run(main())


def test_a_sandbox_dies_at_its_timeout_across_a_kill_9_restart(serve: Any, e2b_url: Any) -> None:
    from e2b import Sandbox

    server = serve("--e2b-pool", "1")
    e2b_url(server.url, create_key("alice"))
    sbx = Sandbox.create(template="promptkiln-docs", timeout=30)
    assert sbx.commands.run("echo up").stdout == "up\n"
    server.kill9()  # no chance to clean up
    [box] = _containers(sbx.sandbox_id)
    this_server = box.labels["promptkiln.e2b.server"]  # another run's servers are not this one
    server.start()  # adopts it, and removes the dead server's warm pool
    assert [s.sandbox_id for s in Sandbox.list().next_items()] == [sbx.sandbox_id]
    assert Sandbox.connect(sbx.sandbox_id).commands.run("echo again").stdout == "again\n"
    deadline = time.monotonic() + 45
    while _containers(sbx.sandbox_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _containers(sbx.sandbox_id) == []
    assert Sandbox.list().next_items() == []
    server.kill9()
    server.start()
    time.sleep(1)
    client = docker.from_env()
    try:
        mine = client.containers.list(
            filters={
                "label": ["promptkiln.e2b.kind=sandbox", f"promptkiln.e2b.server={this_server}"]
            }
        )
        # only the new server's warm pool (no tenant's sandbox) is left running
        assert all(c.labels["promptkiln.e2b.owner-pid"] == str(server.proc.pid) for c in mine)
    finally:
        client.close()

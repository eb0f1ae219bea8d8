"""The E2B backend, through the real e2b SDK, against the local fake E2B (tests/e2b_server).

The fake's sandboxes are locked-down containers of the sandbox image, so these run real scripts
under the real contract; the shared contract suite (test_contract.py) runs over this backend too.
Here: what only E2B has — its secure defaults, process stopping, ListDir-based outputs, leftover
reaping, both control-plane route generations, and every error at the boundary.
"""

from __future__ import annotations

import _thread
import importlib.util
import inspect
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkiln.config import Settings, load_settings
from promptkiln.errors import (
    BackendUnavailable,
    ConfigError,
    ImageError,
    PromptkilnError,
    SandboxError,
)
from promptkiln.sandbox.base import SCRIPT_PATH, EntryKind, InputFile, Sandbox, Termination

_FIXTURES = "promptkiln_tests_e2b_fixtures"

if _FIXTURES not in sys.modules:
    # No conftest has registered tests/integration/e2b_fixtures.py (under this module name):
    # load it by path (tests/ is not a package) and expose its fixtures to this module.
    _spec = importlib.util.spec_from_file_location(
        _FIXTURES, Path(__file__).with_name("e2b_fixtures.py")
    )
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_FIXTURES] = _module
    _spec.loader.exec_module(_module)
    e2b_fake = _module.e2b_fake
    e2b_env = _module.e2b_env
    e2b_settings = _module.e2b_settings


@pytest.fixture
def sandbox(e2b_settings: Settings) -> Iterator[Any]:
    from promptkiln.sandbox.e2b import create

    sb = create(e2b_settings, "test-run")
    try:
        yield sb
    finally:
        sb.close()


def run_script(
    sb: Any, script: bytes, inputs: list[InputFile] | None = None, timeout: float = 60
) -> Any:
    sb.start()
    sb.put_inputs(inputs or [], script)
    return sb.run(["python3", SCRIPT_PATH], timeout_s=timeout)


# -- the backend under the contract -----------------------------------------------------------


@pytest.mark.e2b
@pytest.mark.docker
def test_satisfies_the_protocol_and_registry(e2b_settings: Settings) -> None:
    from promptkiln.sandbox.registry import create_sandbox

    sb = create_sandbox("e2b", e2b_settings, "proto")
    assert isinstance(sb, Sandbox)
    assert sb.info.backend == "e2b" and sb.info.network == "none"
    sb.close()  # never started: still fine, and idempotent
    sb.close()


@pytest.mark.e2b
@pytest.mark.docker
def test_secure_defaults_reach_the_api(sandbox: Any, e2b_env: Any) -> None:
    sandbox.start()
    record = e2b_env.record(sandbox.info.extra["sandbox_id"])
    assert record.allow_internet_access is False
    assert record.env_vars == {}
    assert record.template == "promptkiln-docs"
    assert record.metadata["promptkiln.run"] == "test-run"
    assert record.metadata["promptkiln.kind"] == "sandbox"
    assert record.end_at - record.started_at == pytest.approx(sandbox.lifetime_s, abs=2)
    assert ("POST", "/v2/sandboxes") in e2b_env.requests
    sandbox.close()
    assert e2b_env.record(record.sandbox_id) is None


@pytest.mark.e2b
@pytest.mark.docker
def test_chart_from_csv_input_comes_out_as_raw_entries(sandbox: Any) -> None:
    script = b"""
import csv, os
import matplotlib.pyplot as plt
rows = list(csv.DictReader(open('inputs/sales.csv')))
plt.bar([r['region'] for r in rows], [int(r['revenue']) for r in rows])
os.makedirs('charts', exist_ok=True)
plt.savefig('charts/sales.png')
print(len(rows), 'bars')
"""
    sales = b"region,revenue\nNorth,21\nSouth,28\n"
    result = run_script(sandbox, script, [InputFile("sales.csv", sales)])
    assert result.ok, result.stderr.text
    assert result.stdout.text == "2 bars\n"
    entries = {e.raw_name: e for e in sandbox.outputs()}
    assert set(entries) == {"charts", "charts/sales.png"}
    assert entries["charts"].kind is EntryKind.DIR
    png = entries["charts/sales.png"]
    assert png.kind is EntryKind.FILE
    data = png.read(10_000_000)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) == png.size
    assert png.read(7) == data[:8]  # capped at limit + 1


@pytest.mark.e2b
@pytest.mark.docker
def test_xlsx_from_csv_through_the_collector(sandbox: Any, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from promptkiln.sandbox.collect import collect

    script = b"""
import csv
from openpyxl import Workbook
wb = Workbook(); ws = wb.active; ws.title = 'Data'
for row in csv.reader(open('inputs/data.csv')):
    ws.append(row)
wb.save('table.xlsx')
"""
    result = run_script(sandbox, script, [InputFile("data.csv", b"a,b\n1,2\n")])
    assert result.ok, result.stderr.text
    collected = collect(sandbox.outputs(), tmp_path / "out", sandbox.limits)
    assert [a.name for a in collected.artifacts] == ["table.xlsx"]
    ws = load_workbook(collected.artifacts[0].path)["Data"]
    assert [[c.value for c in row] for row in ws.iter_rows()] == [["a", "b"], ["1", "2"]]


@pytest.mark.e2b
@pytest.mark.docker
def test_nonzero_exit_is_a_result(sandbox: Any) -> None:
    result = run_script(sandbox, b"import sys\nprint('partial')\nsys.exit(3)\n")
    assert result.termination is Termination.EXITED
    assert result.exit_code == 3
    assert result.stdout.text == "partial\n"


@pytest.mark.e2b
@pytest.mark.docker
def test_timeout_kills_the_sandbox(sandbox: Any, e2b_env: Any) -> None:
    started = time.monotonic()
    result = run_script(
        sandbox, b"import time\nprint('up', flush=True)\ntime.sleep(60)\n", timeout=3
    )
    assert result.termination is Termination.TIMEOUT
    assert result.exit_code is None
    assert 3 <= result.duration_s < 10 and time.monotonic() - started < 30
    assert e2b_env.record(sandbox.info.extra["sandbox_id"]) is None  # killed, not just abandoned
    assert list(sandbox.outputs()) == []


@pytest.mark.e2b
@pytest.mark.docker
def test_every_process_is_stopped_before_collection(sandbox: Any, e2b_env: Any) -> None:
    script = b"""
import subprocess
subprocess.Popen(['sh', '-c', 'while :; do echo x >> ticker.txt; sleep 0.05; done'],
                 start_new_session=True)
subprocess.Popen(['sleep', '1000'], start_new_session=True)
"""
    result = run_script(sandbox, script)
    assert result.ok, result.stderr.text
    # A daemon of another uid, as a script that became root (sudo/su on E2B) would leave.
    sandbox.sbx.commands.run("sleep 1000", user="root", background=True, cwd="/")
    entries = {e.raw_name: e for e in sandbox.outputs()}
    box = e2b_env.record(sandbox.info.extra["sandbox_id"]).box
    _, ps = box.exec_simple(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"], user="root")
    assert b"sleep 1000" not in ps, ps
    assert b"/run/pk/deadline" in ps  # the baseline (the sandbox's watchdog) survives
    _code, out = box.exec_simple(
        ["sh", "-c", "grep -l '^Uid:.*\\b1000\\b' /proc/[0-9]*/status || true"], user="root"
    )
    assert out.strip() == b"", out
    first = entries["ticker.txt"].read(1 << 20)
    time.sleep(0.3)
    assert entries["ticker.txt"].read(1 << 20) == first  # nothing writes any more


@pytest.mark.e2b
@pytest.mark.docker
def test_hostile_names_links_and_specials_are_yielded_as_such(sandbox: Any, tmp_path: Path) -> None:
    from promptkiln.sandbox.collect import collect

    script = b"""
import os
open('good.txt','w').write('fine')
os.symlink('/etc/passwd', 'link.txt')
os.symlink('good.txt', 'rel-link.txt')
open('evil\\x1b[31m.txt','w').write('x')
open('bidi\\u202etxt.exe','w').write('x')
open('..dots..txt','w').write('x')
os.mkfifo('pipe')
"""
    assert run_script(sandbox, script).ok
    entries = {e.raw_name: e for e in sandbox.outputs()}
    assert entries["link.txt"].kind is EntryKind.SYMLINK
    assert entries["rel-link.txt"].kind is EntryKind.SYMLINK
    assert entries["pipe"].kind is EntryKind.FIFO
    assert entries["evil\x1b[31m.txt"].kind is EntryKind.FILE
    assert entries["bidi\u202etxt.exe"].kind is EntryKind.FILE
    with pytest.raises(SandboxError, match="not a regular file"):
        entries["link.txt"].read(100)
    collected = collect(sandbox.outputs(), tmp_path / "out", sandbox.limits)
    assert [a.name for a in collected.artifacts] == ["good.txt"]
    assert len(collected.rejections) == 6, collected.rejections  # ..dots..txt is "hidden"


@pytest.mark.e2b
@pytest.mark.docker
def test_replaced_working_directory_is_refused(sandbox: Any) -> None:
    script = (
        b"import os\nos.chdir('/home/user')\nos.rename('work', 'old')\nos.symlink('/etc', 'work')\n"
    )
    assert run_script(sandbox, script).ok
    with pytest.raises(SandboxError, match="replaced the working directory"):
        list(sandbox.outputs())


@pytest.mark.e2b
@pytest.mark.docker
def test_ctrl_c_during_a_run_kills_the_sandbox(sandbox: Any, e2b_env: Any) -> None:
    sandbox.start()
    sandbox.put_inputs([], b"import time\ntime.sleep(60)\n")
    sandbox_id = sandbox.info.extra["sandbox_id"]
    threading.Timer(1.5, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        sandbox.run(["python3", SCRIPT_PATH], timeout_s=60)
    assert e2b_env.record(sandbox_id) is None


@pytest.mark.e2b
@pytest.mark.docker
def test_reap_kills_leftovers_of_dead_owners(e2b_settings: Settings, e2b_env: Any) -> None:
    import e2b

    from promptkiln.sandbox.e2b import reap

    orphan = e2b.Sandbox.create(
        template="promptkiln-docs",
        timeout=60,
        metadata={
            "promptkiln.kind": "sandbox",
            "promptkiln.owner-host": __import__("socket").gethostname(),
            "promptkiln.owner-pid": "999999999",
        },
    )
    stranger = e2b.Sandbox.create(template="promptkiln-docs", timeout=60)
    try:
        assert reap(e2b_settings) == [orphan.sandbox_id]
        assert e2b_env.record(orphan.sandbox_id) is None
        assert e2b_env.record(stranger.sandbox_id) is not None
    finally:
        stranger.kill()
        orphan.kill()


@pytest.mark.e2b
@pytest.mark.docker
def test_reap_kills_an_earlier_process_with_our_pid_and_spares_our_own(
    e2b_settings: Settings, e2b_env: Any
) -> None:
    """A server restarted as PID 1 in the same container or pod has its predecessor's pid and
    host: the predecessor's sandboxes (made before this process started) are leftovers."""
    import os
    import socket

    import e2b

    from promptkiln import leftovers
    from promptkiln.sandbox.e2b import reap

    def ours(created: float) -> Any:
        metadata = {
            "promptkiln.kind": "sandbox",
            "promptkiln.owner-host": socket.gethostname(),
            "promptkiln.owner-pid": str(os.getpid()),
            "promptkiln.created": str(int(created)),
        }
        return e2b.Sandbox.create(template="promptkiln-docs", timeout=60, metadata=metadata)

    before, mine = ours(leftovers.PROCESS_STARTED - 3600), ours(time.time())
    try:
        assert reap(e2b_settings) == [before.sandbox_id]
        assert e2b_env.record(mine.sandbox_id) is not None
    finally:
        for box in (before, mine):
            box.kill()


@pytest.mark.e2b
@pytest.mark.docker
def test_replicas_reap_a_dead_replicas_sandboxes_and_spare_a_live_ones(
    e2b_settings: Settings, e2b_env: Any, pg_url: str, tmp_path: Path
) -> None:
    """Across hosts a pid says nothing: a replica judges another replica's sandboxes by that
    replica's heartbeat in the shared store. A CLI run elsewhere (no heartbeat) is spared."""
    import e2b

    from promptkiln.records.store import Store
    from promptkiln.sandbox.e2b_ops import reap
    from promptkiln.server import queue

    lease = 30.0
    with Store.open(tmp_path, pg_url) as store:
        queue.heartbeat(store, "4242@replica-a", [], lease, time.time())
        queue.heartbeat(store, "4343@replica-b", [], lease, time.time())
        store.conn.execute(  # replica-a stopped heartbeating two leases ago
            "UPDATE replicas SET last_seen = ? WHERE id = '4242@replica-a'",
            (time.time() - 2 * lease,),
        )

        def labelled(pid: str, host: str) -> Any:
            return e2b.Sandbox.create(
                template="promptkiln-docs",
                timeout=60,
                metadata={
                    "promptkiln.kind": "sandbox",
                    "promptkiln.owner-pid": pid,
                    "promptkiln.owner-host": host,
                },
            )

        dead, live, cli = (
            labelled("4242", "replica-a"),
            labelled("4343", "replica-b"),
            labelled("4444", "laptop"),
        )
        try:
            killed = reap(
                e2b_settings,
                gone=lambda pid, host: queue.replica_gone(store, f"{pid}@{host}", lease),
            )
            assert killed == [dead.sandbox_id]
            assert e2b_env.record(live.sandbox_id) is not None
            assert e2b_env.record(cli.sandbox_id) is not None
            assert reap(e2b_settings) == []  # without the store's view, other hosts are spared
        finally:
            for sb in (dead, live, cli):
                sb.kill()


@pytest.mark.e2b
@pytest.mark.docker
def test_fake_serves_the_v1_control_plane_routes_too(e2b_env: Any) -> None:
    """SDK <= 2.50 created and connected at /sandboxes; the fake serves both generations."""
    from e2b.api.client.api.sandboxes import (
        delete_sandboxes_sandbox_id,
        post_sandboxes,
        post_sandboxes_sandbox_id_connect,
    )
    from e2b.api.client.models import ConnectSandbox, NewSandbox
    from e2b.api.client_sync import get_api_client
    from e2b.connection_config import ConnectionConfig

    client = get_api_client(ConnectionConfig())
    created = post_sandboxes.sync_detailed(
        client=client, body=NewSandbox(template_id="base", timeout=30)
    )
    assert created.status_code == 201, created.content
    sid = created.parsed.sandbox_id
    connected = post_sandboxes_sandbox_id_connect.sync_detailed(
        sid, client=client, body=ConnectSandbox(timeout=30)
    )
    assert connected.status_code in (200, 201)
    assert delete_sandboxes_sandbox_id.sync_detailed(sid, client=client).status_code == 204


# -- errors at the boundary ---------------------------------------------------------------------


@pytest.mark.e2b
@pytest.mark.docker
def test_wrong_api_key(e2b_settings: Settings) -> None:
    from promptkiln.sandbox.e2b import create

    bad = load_settings(
        **{
            **e2b_settings.model_dump(),
            "e2b": {**e2b_settings.e2b.model_dump(), "api_key": "e2b_wrong"},
        }
    )
    with pytest.raises(BackendUnavailable, match="rejected the API key") as info:
        create(bad, "r").start()
    assert info.value.hint and "E2B_API_KEY" in info.value.hint


def test_missing_api_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("e2b")
    from promptkiln.sandbox.e2b import create

    monkeypatch.delenv("E2B_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="no E2B API key"):
        create(load_settings(backend="e2b"), "r").start()


@pytest.mark.e2b
@pytest.mark.docker
def test_unknown_template(e2b_settings: Settings) -> None:
    from promptkiln.sandbox.e2b import create

    other = load_settings(
        **{
            **e2b_settings.model_dump(),
            "e2b": {**e2b_settings.e2b.model_dump(), "template": "nope"},
        }
    )
    with pytest.raises(ImageError, match="template 'nope' was not found") as info:
        create(other, "r").start()
    assert info.value.hint and "e2b-template" in info.value.hint


@pytest.mark.e2b
@pytest.mark.docker
def test_api_without_v2_routes(e2b_settings: Settings, e2b_env: Any) -> None:
    from promptkiln.sandbox.e2b import create

    e2b_env.fail(404, method="POST", path="/v2/sandboxes", message="Not Found")
    with pytest.raises(BackendUnavailable, match="404") as info:
        create(e2b_settings, "r").start()
    assert "/v2/sandboxes" in (info.value.hint or "")


@pytest.mark.e2b
@pytest.mark.docker
def test_sandbox_killed_mid_run(sandbox: Any, e2b_env: Any) -> None:
    sandbox.start()
    sandbox.put_inputs([], b"import time\ntime.sleep(30)\n")
    threading.Timer(1.5, e2b_env.kill, args=(sandbox.info.extra["sandbox_id"],)).start()
    with pytest.raises(SandboxError, match="sandbox is gone") as info:
        sandbox.run(["python3", SCRIPT_PATH], timeout_s=30)
    assert info.value.hint and "sandbox_timeout" in info.value.hint


@pytest.mark.e2b
@pytest.mark.docker
def test_server_answers_502(e2b_settings: Settings, e2b_env: Any) -> None:
    from promptkiln.sandbox.e2b import create

    e2b_env.fail(502, method="POST", path="/v2/sandboxes", message="bad gateway")
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="answered 502"):
        create(e2b_settings, "r").start()
    assert time.monotonic() - started < 30  # the SDK's own retries are bounded


@pytest.mark.e2b
@pytest.mark.docker
def test_rate_limit_and_no_capacity(e2b_settings: Settings, e2b_env: Any) -> None:
    from promptkiln.sandbox.e2b import create

    e2b_env.fail(429, path="/v2/sandboxes", message="concurrent sandboxes limit reached")
    with pytest.raises(BackendUnavailable, match="quota"):
        create(e2b_settings, "r").start()
    e2b_env.clear_faults()
    e2b_env.fail(503, path="/v2/sandboxes", message="no capacity")
    with pytest.raises(BackendUnavailable, match="no capacity"):
        create(e2b_settings, "r").start()


@pytest.mark.e2b
@pytest.mark.docker
def test_envd_failure_while_uploading(sandbox: Any, e2b_env: Any) -> None:
    sandbox.start()
    e2b_env.fail(502, path="/files", plane="envd", message="The sandbox was not found")
    with pytest.raises(SandboxError, match="sandbox is gone"):
        sandbox.put_inputs([InputFile("a.txt", b"x")], b"print(1)\n")


def test_network_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("e2b")
    import socket

    from promptkiln.sandbox.e2b import create

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("E2B_CONNECTION_RETRIES", "0")
    settings = load_settings(
        backend="e2b", e2b={"api_url": url, "sandbox_url": url, "api_key": "e2b_x"}
    )
    with pytest.raises(BackendUnavailable, match="cannot reach E2B") as info:
        create(settings, "r").start()
    assert url in str(info.value)


def test_no_e2b_exception_is_left_unmapped() -> None:
    """Every exception class the SDK exports maps to a promptkiln error with a hint."""
    e2b = pytest.importorskip("e2b")
    from promptkiln.sandbox.e2b_errors import map_exception, translate_errors

    classes = [
        obj
        for obj in vars(e2b).values()
        if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__.startswith("e2b")
    ]
    assert len(classes) > 10
    for cls in classes:
        try:
            exc = cls("boom")
        except TypeError:
            exc = cls.__new__(cls)
        mapped = map_exception(exc, "testing")
        assert isinstance(mapped, PromptkilnError), cls
        assert mapped.hint, cls
        with pytest.raises(PromptkilnError), translate_errors("testing"):
            raise exc


# -- images/ as an E2B template (offline) ---------------------------------------------------------


def test_the_sandbox_dockerfile_converts_to_an_e2b_template() -> None:
    pytest.importorskip("e2b")
    from promptkiln.image.e2b_template import check_dockerfile, default_dockerfile

    path = default_dockerfile()
    checked = check_dockerfile(path.read_text(), context=path.parent)
    assert checked.ok, [str(p) for p in checked.problems]
    assert checked.base_image == "debian:bookworm-slim"
    assert "FROM ${BASE} resolved to debian:bookworm-slim" in checked.notes


@pytest.mark.parametrize(
    ("dockerfile", "problem"),
    [
        (
            "FROM debian:12 AS a\nFROM debian:12\nUSER user\nWORKDIR /home/user/work\n",
            "Multi-stage",
        ),
        ("FROM alpine:3\nUSER user\nWORKDIR /home/user/work\n", "not a public Debian"),
        (
            "FROM promptkiln-base:bookworm\nUSER user\nWORKDIR /home/user/work\n",
            "not a public Debian",
        ),
        ("FROM debian:12\nWORKDIR /home/user/work\n", "USER user"),
        ("FROM debian:12\nUSER user\n", "WORKDIR /home/user/work"),
        ('FROM debian:12\nSHELL ["/bin/bash"]\nUSER user\nWORKDIR /home/user/work\n', "SHELL"),
        (
            "FROM debian:12\nHEALTHCHECK CMD true\nUSER user\nWORKDIR /home/user/work\n",
            "HEALTHCHECK",
        ),
        (
            "FROM debian:12\nRUN --mount=type=cache,target=/c true\nUSER user\nWORKDIR /home/user/work\n",
            "--mount",
        ),
        (
            "FROM debian:12\nCOPY --from=x /a /b\nUSER user\nWORKDIR /home/user/work\n",
            "COPY --from",
        ),
        (
            "FROM debian:12\nRUN apt-get install -y envd\nUSER user\nWORKDIR /home/user/work\n",
            "envd",
        ),
    ],
)
def test_unsupported_dockerfile_constructs_fail_the_check(dockerfile: str, problem: str) -> None:
    pytest.importorskip("e2b")
    from promptkiln.image.e2b_template import check_dockerfile

    checked = check_dockerfile(dockerfile)
    assert not checked.ok
    assert any(problem in str(p) for p in checked.problems), [str(p) for p in checked.problems]


def test_template_build_refuses_a_bad_dockerfile_before_calling_e2b(tmp_path: Path) -> None:
    pytest.importorskip("e2b")
    from promptkiln.image.e2b_template import build_template, resources

    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM alpine:3\n")
    with pytest.raises(ImageError, match="cannot be built as an E2B template"):
        build_template(load_settings(), dockerfile=bad)
    assert resources(load_settings(limits={"cpus": 1.5, "memory": "1g"})) == (2, 1024)


@pytest.mark.e2b
@pytest.mark.docker
def test_a_file_name_that_is_not_utf8_stops_collection_clearly(sandbox: Any) -> None:
    from promptkiln.errors import OutputError

    script = b"import os\nopen('good.txt','w').write('x')\nopen(b'bad\\xff.txt','w').write('x')\n"
    assert run_script(sandbox, script).ok
    with pytest.raises(OutputError, match="not valid UTF-8"):
        list(sandbox.outputs())

"""Sessions end to end: real litellm against the scripted OpenAI-compatible server, the real
Docker sandbox, the real store on disk. An edit pair (bar chart -> pie chart), replay, and a
process killed mid-turn."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from promptkiln.cli.runs import register as register_runs
from promptkiln.cli.sessions import register
from promptkiln.config import load_settings
from promptkiln.making.replay import replay
from promptkiln.making.sessions import run_turn
from promptkiln.records.sessions import file_version_bytes
from promptkiln.records.store import Store

pytestmark = [pytest.mark.docker]

BAR = """Here is the workbook.

```python
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

wb = Workbook()
ws = wb.active
ws.title = "Sales"
ws.append(["Month", "Revenue"])
for row in [("Jan", 120), ("Feb", 135), ("Mar", 160)]:
    ws.append(row)
chart = BarChart()
chart.title = "Q1 revenue"
chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=4), titles_from_data=True)
chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=4))
ws.add_chart(chart, "D2")
wb.save("report.xlsx")
print("wrote report.xlsx")
```
"""

PIE = """I will open the existing workbook and swap the chart.

```python
from openpyxl import load_workbook
from openpyxl.chart import PieChart, Reference

wb = load_workbook("inputs/report.xlsx")
ws = wb["Sales"]
ws._charts = []  # drop the bar chart
chart = PieChart()
chart.title = "Q1 revenue"
chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=4), titles_from_data=True)
chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=4))
ws.add_chart(chart, "D2")
wb.save("report.xlsx")
print("wrote report.xlsx")
```
"""

SLEEPER = "```python\nimport time\ntime.sleep(120)\nopen('report.xlsx', 'w').write('never')\n```"


def settings_for(server: Any, **kw: Any) -> Any:
    return load_settings(
        model="openai/test-model", api_base=server.url, limits={"timeout": 60}, **kw
    )


C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"


def charts(xlsx: bytes) -> set[str]:
    """The chart kinds in a workbook, from xl/charts/*.xml (c:barChart, c:pieChart, ...)."""
    from xml.etree import ElementTree

    kinds = set()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        for name in z.namelist():
            if name.startswith("xl/charts/chart"):
                for plot in ElementTree.fromstring(z.read(name)).iter(f"{C}plotArea"):
                    kinds |= {el.tag.removeprefix(C) for el in plot if el.tag.endswith("Chart")}
    return kinds


def cells(xlsx: bytes) -> list[tuple[Any, ...]]:
    from openpyxl import load_workbook

    return list(load_workbook(io.BytesIO(xlsx))["Sales"].iter_rows(values_only=True))


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def noop() -> None:
        pass

    register(app)
    register_runs(app)
    return app


def test_edit_pair_bar_chart_then_pie_chart(openai_server: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    openai_server.enqueue(BAR)
    first = run_turn(
        "Q1 sales workbook with a revenue bar chart",
        formats=["xlsx"],
        out=out,
        settings=settings_for(openai_server),
    )
    assert first.new_session and first.turn == 1
    assert first.versions == [("report.xlsx", 1)]
    v1 = (out / "report.xlsx").read_bytes()
    assert charts(v1) == {"barChart"}

    # Turn 2 through the CLI, by id prefix, with the model and endpoint taken from the session.
    openai_server.enqueue(PIE)
    result = CliRunner().invoke(
        cli_app(),
        [
            "continue",
            first.session_id[:8],
            "Make the chart a pie chart",
            "-o",
            str(out),
            "--overwrite",
            "-q",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"session {first.session_id} turn 2: report.xlsx v2" in result.output

    v2 = (out / "report.xlsx").read_bytes()
    assert charts(v2) == {"pieChart"}
    assert (
        cells(v2) == cells(v1) == [("Month", "Revenue"), ("Jan", 120), ("Feb", 135), ("Mar", 160)]
    )
    settings = settings_for(openai_server)
    assert file_version_bytes(settings, first.session_id, "report.xlsx", 1) == v1
    assert file_version_bytes(settings, first.session_id, "report.xlsx") == v2

    # What the model saw on turn 2: the first exchange, then the files it can edit.
    sent = openai_server.history[1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "Q1 sales workbook with a revenue bar chart"
    assert "ws.add_chart(chart" in sent[2]["content"] and "BarChart" in sent[2]["content"]
    assert "./inputs/: report.xlsx (v1," in sent[3]["content"]

    with Store.open(settings.home) as store:
        records = list(reversed(store.runs(session_id=first.session_id)))
        assert [(r.kind, r.body["turn"], r.body["exit_code"]) for r in records] == [
            ("make", 1, 0),
            ("continue", 2, 0),
        ]
        assert records[1].body["inputs"][0]["name"] == "report.xlsx"
        assert records[1].body["sandbox"]["image_id"].startswith("sha256:")
        assert store.verify().ok

    # Replay turn 2: same script, same input v1, a fresh sandbox; openpyxl stamps the time in
    # docProps/core.xml, so the bytes may differ while the content is the same.
    rep = replay(records[1].id, tmp_path / "replay", settings)
    assert rep.matches, rep.comparisons
    assert [c.name for c in rep.comparisons] == ["report.xlsx"]
    assert rep.comparisons[0].status in ("identical", "same content")
    print(f"\nreplay of turn 2: {rep.comparisons[0].status} {rep.comparisons[0].detail}")

    # The session listing and rm: every blob of the session goes.
    listing = CliRunner().invoke(cli_app(), ["sessions"], catch_exceptions=False).output
    assert first.session_id[:12] in listing
    shown = (
        CliRunner()
        .invoke(cli_app(), ["sessions", "show", first.session_id[:6]], catch_exceptions=False)
        .output
    )
    assert "report.xlsx" in shown and "v2" in shown
    with Store.open(settings.home) as store:
        store.remove_session(first.session_id)
        assert list(store.blobs.all()) == []
        assert store.verify().ok


KILLED_TURN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from promptkiln.config import load_settings
    from promptkiln.making.sessions import run_turn
    settings = load_settings(model="openai/test-model", api_base=sys.argv[1],
                             limits={"timeout": 60})
    run_turn("Make it slower", session=sys.argv[2], out=Path(sys.argv[3]), settings=settings)
    """
)


def _remove_leftovers(pid: int) -> None:
    import docker

    client = docker.from_env()
    label = f"promptkiln.owner-pid={pid}"
    for c in client.containers.list(all=True, filters={"label": label}):
        c.remove(force=True)
    for v in client.volumes.list(filters={"label": label}):
        v.remove(force=True)


def test_a_process_killed_mid_turn_leaves_the_session_usable(
    openai_server: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    settings = settings_for(openai_server)
    openai_server.enqueue(BAR)
    first = run_turn("Q1 workbook", formats=["xlsx"], out=out, settings=settings)

    openai_server.enqueue(SLEEPER)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_TURN, openai_server.url, first.session_id, str(out)],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with Store.open(settings.home) as store:
                turns = store.turns(first.session_id)
            if len(turns) == 2 and len(openai_server.history) == 2:
                time.sleep(3)  # the sleeper is now running in its sandbox
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        _remove_leftovers(proc.pid)

    with Store.open(settings.home) as store:
        assert [t["status"] for t in store.turns(first.session_id)] == ["ok", "running"]
        assert [(r["name"], r["version"]) for r in store.workspace(first.session_id)] == [
            ("report.xlsx", 1)
        ]
        assert store.verify().ok

    openai_server.enqueue(PIE)
    third = run_turn(
        "Make the chart a pie chart",
        session=first.session_id,
        out=out,
        settings=settings,
        overwrite=True,
    )
    assert third.turn == 3 and third.versions == [("report.xlsx", 2)]
    assert charts((out / "report.xlsx").read_bytes()) == {"pieChart"}
    shown = (
        CliRunner()
        .invoke(cli_app(), ["sessions", "show", first.session_id], catch_exceptions=False)
        .output
    )
    assert "interrupted" in shown

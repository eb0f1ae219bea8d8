"""The claude engine: the real anthropic SDK against the protocol-faithful fake in
tests/vendor_servers/anthropic.py, whose container runs the scripted code in our Docker sandbox."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from promptkiln.engines.claude import newest_tool_version
from promptkiln.errors import ModelAuthError
from promptkiln.making.make import make
from promptkiln.making.sessions import run_turn
from promptkiln.records.store import Store

vf = sys.modules["promptkiln_tests_vendor_fixtures"]
Turn = vf.Turn

TWO_FILES = """
import csv
rows = list(csv.reader(open("inputs/sales.csv")))
total = sum(float(r[1]) for r in rows[1:])
with open("summary.csv", "w") as f:
    f.write(f"total\\n{total}\\n")
open("notes.md", "w").write(f"# Sales\\n\\n{len(rows) - 1} rows, total {total}\\n")
print("wrote 2 files")
"""

EDIT = """
total = float(open("inputs/summary.csv").read().split()[1].split(",")[0])
text = f"total,doubled\\n{total},{total * 2}\\n"
open("summary.csv", "w").write(text)
"""


def _records(settings: Any) -> list[dict[str, Any]]:
    with Store.open(settings.home) as store:
        return [r.body for r in store.runs()]


@pytest.mark.docker
def test_inputs_uploaded_used_and_two_files_delivered(fake_anthropic: Any, tmp_path: Path) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text("q,revenue\nQ1,2.5\nQ2,3.5\n")
    fake_anthropic.enqueue(Turn(TWO_FILES, text="Made summary.csv and notes.md."))
    settings = vf.engine_settings("claude", fake_anthropic)
    lines: list[str] = []
    turn = run_turn(
        "Summarise the sales",
        formats=["csv", "md"],
        inputs=[sales],
        out=tmp_path / "out",
        settings=settings,
        progress=lines.append,
    )
    assert sorted(a.name for a in turn.delivered) == ["notes.md", "summary.csv"]
    assert (tmp_path / "out" / "summary.csv").read_text() == "total\n6.0\n"
    assert any("engine claude: --engine claude was asked for" in line for line in lines)
    sent = next(r for r in fake_anthropic.requests if r["path"] == "/v1/messages")["body"]
    assert sent["tools"] == [
        {"type": f"code_execution_{newest_tool_version()}", "name": "code_execution"}
    ]
    uploads = [b for b in sent["messages"][0]["content"] if b["type"] == "container_upload"]
    assert len(uploads) == 1 and uploads[0]["file_id"] in fake_anthropic.files
    body = _records(settings)[0]
    extra = body["sandbox"]["extra"]
    assert extra["engine"] == "claude" and extra["container_id"].startswith("container_")
    assert '"input_tokens": 100' in extra["usage"]
    assert body["model"].startswith("claude:") and body["network"] == "vendor"
    assert [o["name"] for o in body["outputs"]] == ["notes.md", "summary.csv"]


@pytest.mark.docker
def test_continue_reuses_the_container_then_survives_its_expiry(
    fake_anthropic: Any, tmp_path: Path
) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text("q,revenue\nQ1,2.5\nQ2,3.5\n")
    settings = vf.engine_settings("claude", fake_anthropic)
    fake_anthropic.enqueue(Turn(TWO_FILES))
    first = run_turn(
        "Summarise", formats=["csv"], inputs=[sales], out=tmp_path / "o1", settings=settings
    )
    (cid,) = fake_anthropic.containers
    fake_anthropic.enqueue(Turn(EDIT))
    run_turn(
        "Add a doubled column",
        session=first.session_id,
        formats=["csv"],
        out=tmp_path / "o2",
        settings=settings,
    )
    messages = [r["body"] for r in fake_anthropic.requests if r["path"] == "/v1/messages"]
    assert messages[1]["container"] == cid  # reused: summary.csv was still on its disk
    assert not [b for b in messages[1]["messages"][0]["content"] if b["type"] == "container_upload"]
    assert (tmp_path / "o2" / "summary.csv").read_text() == "total,doubled\n6.0,12.0\n"

    fake_anthropic.expire(cid)
    fake_anthropic.enqueue(Turn(EDIT.replace("* 2", "* 3")))
    lines: list[str] = []
    run_turn(
        "Triple instead",
        session=first.session_id,
        formats=["csv"],
        out=tmp_path / "o3",
        settings=settings,
        progress=lines.append,
    )
    messages = [r["body"] for r in fake_anthropic.requests if r["path"] == "/v1/messages"]
    assert messages[2]["container"] == cid  # tried the old one: 404 "expired"
    assert "container" not in messages[3]  # then a new container, files uploaded into it
    uploaded = {
        fake_anthropic.files[b["file_id"]].name
        for b in messages[3]["messages"][0]["content"]
        if b["type"] == "container_upload"
    }
    assert "summary.csv" in uploaded
    assert len(fake_anthropic.containers) == 2
    assert any("expired" in line for line in lines)
    assert (tmp_path / "o3" / "summary.csv").read_text() == "total,doubled\n6.0,18.0\n"


@pytest.mark.docker
def test_pause_turn_is_continued_and_hostile_names_are_rejected(
    fake_anthropic: Any, tmp_path: Path
) -> None:
    code = 'open("good.csv","w").write("a\\n1\\n"); open("bad.csv","w").write("b\\n2\\n")'
    fake_anthropic.enqueue(Turn(code, pause=True, rename={"bad.csv": "../../.bashrc.csv"}))
    settings = vf.engine_settings("claude", fake_anthropic, attempts=1)
    result = make("two tables", formats=["csv"], out=tmp_path / "out", settings=settings)
    assert [a.name for a in result.files] == ["good.csv"]
    assert [r.name for r in result.rejections] == ["../../.bashrc.csv"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.csv"]
    assert not (tmp_path / ".bashrc.csv").exists()
    messages = [r["body"] for r in fake_anthropic.requests if r["path"] == "/v1/messages"]
    assert len(messages) == 2 and messages[1]["messages"][-1]["role"] == "assistant"


def test_a_wrong_key_is_an_auth_error_with_a_hint(fake_anthropic: Any, tmp_path: Path) -> None:
    settings = vf.load_settings(
        engine="claude", engines={"claude": {"base_url": fake_anthropic.url, "api_key": "wrong"}}
    )
    with pytest.raises(ModelAuthError, match="ANTHROPIC_API_KEY"):
        make("a chart", formats=["png"], out=tmp_path / "out", settings=settings)


@pytest.mark.docker
def test_a_file_that_does_not_open_gets_a_follow_up_in_the_same_container(
    fake_anthropic: Any, tmp_path: Path
) -> None:
    fake_anthropic.enqueue(Turn('open("chart.png", "w").write("not a png")'))
    fake_anthropic.enqueue(
        Turn('from PIL import Image\nImage.new("RGB", (20, 10), "red").save("chart.png")')
    )
    settings = vf.engine_settings("claude", fake_anthropic)
    result = make("a red chart", formats=["png"], out=tmp_path / "out", settings=settings)
    assert result.attempt_count == 2 and result.attempts[0].problem
    assert (tmp_path / "out" / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["chart.png"]
    first, second = (r["body"] for r in fake_anthropic.requests if r["path"] == "/v1/messages")
    assert second["container"] == first.get("container", second["container"])
    assert "That did not work" in second["messages"][-1]["content"]
    assert second["messages"][1]["role"] == "assistant"  # the conversation goes on
    assert len(fake_anthropic.containers) == 1

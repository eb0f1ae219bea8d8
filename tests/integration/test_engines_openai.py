"""The openai engine: the real openai SDK against tests/vendor_servers/openai.py (Responses API,
code_interpreter, containers), whose container runs the scripted code in our Docker sandbox."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import openai
import pytest

from promptkiln.making.make import make
from promptkiln.making.sessions import run_turn
from promptkiln.records.store import Store

vf = sys.modules["promptkiln_tests_vendor_fixtures"]
Turn = vf.Turn

TWO_FILES = """
import csv
rows = list(csv.reader(open("inputs/sales.csv")))
total = sum(float(r[1]) for r in rows[1:])
open("summary.csv", "w").write(f"total\\n{total}\\n")
open("report.md", "w").write(f"# Report\\n\\ntotal {total}\\n")
"""
EDIT = """
total = float(open("inputs/summary.csv").read().split()[1].split(",")[0])
text = f"total,doubled\\n{total},{total * 2}\\n"
open("summary.csv", "w").write(text)
"""


def _paths(fake: Any) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in fake.requests]


def _sales(tmp_path: Path) -> Path:
    sales = tmp_path / "sales.csv"
    sales.write_text("q,revenue\nQ1,2.5\nQ2,3.5\n")
    return sales


@pytest.mark.docker
def test_citations_are_downloaded_from_the_containers_endpoint(
    fake_openai: Any, tmp_path: Path
) -> None:
    settings = vf.engine_settings("openai", fake_openai, limits={"memory": "3g"})
    fake_openai.enqueue(Turn(TWO_FILES, text="Here are your files:"))
    result = make(
        "Summarise the sales",
        formats=["csv", "md"],
        inputs=[_sales(tmp_path)],
        out=tmp_path / "out",
        settings=settings,
    )
    assert sorted(a.name for a in result.files) == ["report.md", "summary.csv"]
    assert (tmp_path / "out" / "summary.csv").read_text() == "total\n6.0\n"
    assert fake_openai.memory_limits == ["4g"]  # 3 GiB of [limits] memory -> the 4g tier
    upload = next(r for r in fake_openai.requests if r["path"] == "/v1/responses")["body"]
    (file_id,) = upload["tools"][0]["container"]["file_ids"]
    assert fake_openai.files[file_id].name == "sales.csv"
    downloads = [p for p in _paths(fake_openai) if p.endswith("/content")]
    assert len(downloads) == 2
    assert all(
        p.startswith("GET /v1/containers/cntr_") for p in downloads
    )  # never /v1/files/cfile_
    extra = result.attempts[0].run.sandbox.extra
    assert extra["container_id"].startswith("cntr_") and "cfile_" in extra["file_ids"]


def test_the_plain_files_endpoint_is_a_404_trap_for_cfile_ids(fake_openai: Any) -> None:
    """What the engine avoids: the fake answers like the real API does for a cfile_ id."""
    client = openai.OpenAI(
        api_key=fake_openai.api_key, base_url=fake_openai.base_url, max_retries=0
    )
    with pytest.raises(openai.NotFoundError):
        client.files.content("cfile_0001abc")


@pytest.mark.docker
def test_missing_annotations_fall_back_to_files_created_in_this_call(
    fake_openai: Any, tmp_path: Path
) -> None:
    settings = vf.engine_settings("openai", fake_openai, attempts=1)
    fake_openai.enqueue(Turn(TWO_FILES, cite=False))
    lines: list[str] = []
    result = make(
        "Summarise the sales",
        formats=["csv"],
        inputs=[_sales(tmp_path)],
        out=tmp_path / "out",
        settings=settings,
        progress=lines.append,
    )
    # the uploaded input is in the container listing too, but was not created by this call
    assert sorted(a.name for a in result.files) == ["report.md", "summary.csv"]
    assert any("not cited in the answer" in line for line in lines)
    assert any(
        p.startswith("GET /v1/containers/") and p.endswith("/files") for p in _paths(fake_openai)
    )


@pytest.mark.docker
def test_continue_reuses_the_container_and_reuploads_after_expiry(
    fake_openai: Any, tmp_path: Path
) -> None:
    settings = vf.engine_settings("openai", fake_openai)
    fake_openai.enqueue(Turn(TWO_FILES))
    first = run_turn(
        "Summarise",
        formats=["csv"],
        inputs=[_sales(tmp_path)],
        out=tmp_path / "o1",
        settings=settings,
    )
    (cid,) = fake_openai.containers
    fake_openai.enqueue(Turn(EDIT))
    run_turn(
        "Add a doubled column",
        session=first.session_id,
        formats=["csv"],
        out=tmp_path / "o2",
        settings=settings,
    )
    bodies = [r["body"] for r in fake_openai.requests if r["path"] == "/v1/responses"]
    assert bodies[1]["tools"][0]["container"] == cid
    assert (tmp_path / "o2" / "summary.csv").read_text() == "total,doubled\n6.0,12.0\n"

    fake_openai.expire(cid)
    fake_openai.enqueue(Turn(EDIT.replace("* 2", "* 3")))
    run_turn(
        "Triple instead",
        session=first.session_id,
        formats=["csv"],
        out=tmp_path / "o3",
        settings=settings,
    )
    bodies = [r["body"] for r in fake_openai.requests if r["path"] == "/v1/responses"]
    assert bodies[2]["tools"][0]["container"] == cid
    fresh = bodies[3]["tools"][0]["container"]
    assert fresh["type"] == "auto"
    assert "summary.csv" in {fake_openai.files[i].name for i in fresh["file_ids"]}
    assert (tmp_path / "o3" / "summary.csv").read_text() == "total,doubled\n6.0,18.0\n"
    with Store.open(settings.home) as store:
        extras = [r.body["sandbox"]["extra"] for r in store.runs()]
    assert extras[0]["container_id"] != cid and extras[1]["container_id"] == cid


def test_a_file_too_large_is_a_limit_error(fake_openai: Any, tmp_path: Path) -> None:
    from promptkiln.errors import LimitExceeded

    big = tmp_path / "big.csv"
    big.write_text("x\n1\n")
    fake_openai.upload_status = 413
    settings = vf.engine_settings("openai", fake_openai, attempts=1)
    with pytest.raises(LimitExceeded) as info:
        make("a table", formats=["csv"], inputs=[big], out=tmp_path / "out", settings=settings)
    assert info.value.exit_code == 125 and "smaller" in (info.value.hint or "")

"""Jobs through the real server: the same validated files the CLI gives, through raw HTTP and
the Python client; sessions continue like `promptkiln continue`; runs carry tenant and key."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from promptkiln import Client
from promptkiln.client import RemoteJobFailed

from .conftest import GOOD_PNG, cli, create_key, wait_job

pytestmark = [pytest.mark.docker]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_api_job_gives_the_files_the_cli_gives(
    serve: Any, openai_server: Any, tmp_path: Path
) -> None:
    # The CLI first, against the same scripted model.
    openai_server.enqueue(GOOD_PNG)
    proc = cli(
        "make", "Bar chart of quarterly revenue", "-f", "png", "-o", str(tmp_path / "cli"),
        "--model", "openai/test-model", "--api-base", openai_server.url, "--json", "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cli_files = {f["name"]: f["sha256"] for f in json.loads(proc.stdout)["files"]}
    assert list(cli_files) == ["revenue.png"]

    server = serve()
    key = create_key("acme")
    openai_server.enqueue(GOOD_PNG)
    with server.client(key) as http:
        created = http.post(
            "/v1/jobs", json={"prompt": "Bar chart of quarterly revenue", "formats": ["png"]}
        )
        assert created.status_code == 202, created.text
        assert created.json()["status"] == "queued"
        assert created.json()["id"].startswith("job_")
        job = wait_job(http, created.json()["id"])
        assert job["status"] == "succeeded", job
        assert [(f["name"], f["media_type"]) for f in job["files"]] == [
            ("revenue.png", "image/png")
        ]
        assert {f["name"]: f["sha256"] for f in job["files"]} == cli_files
        assert job["attempts"][0]["ok"] is True
        content = http.get(f"/v1/files/{job['files'][0]['id']}/content")
        assert content.headers["etag"] == f'"{cli_files["revenue.png"]}"'
        assert 'filename="revenue.png"' in content.headers["content-disposition"]
        assert "sandbox" in content.headers["content-security-policy"]
        again = http.get(content.url, headers={"If-None-Match": content.headers["etag"]})
        assert again.status_code == 304 and not again.content
        assert hashlib.sha256(content.content).hexdigest() == cli_files["revenue.png"]
        zipped = http.get(f"/v1/jobs/{job['id']}/files.zip")
        assert zipped.status_code == 200 and zipped.content[:2] == b"PK"

        # The Python client: same files into a directory, then a follow-up turn of the session.
        openai_server.enqueue(GOOD_PNG)
        lines: list[str] = []
        with Client(server.url, key) as client:
            result = client.make(
                "Bar chart of quarterly revenue",
                formats=["png"],
                out=tmp_path / "client",
                progress=lines.append,
            )
            assert [a.name for a in result.files] == ["revenue.png"]
            assert sha(tmp_path / "client" / "revenue.png") == cli_files["revenue.png"]
            assert any(line.startswith("attempt 1 succeeded") for line in lines), lines
            assert result.session_id and result.session_id.startswith("ses_")

            openai_server.enqueue(GOOD_PNG.replace("revenue.png", "revenue2.png"))
            turn = client.continue_(
                result.session_id, "also a second chart", out=tmp_path / "client"
            )
            assert [a.name for a in turn.files] == ["revenue2.png"]
            # The model saw the session's files and its earlier turn, as with the CLI.
            sent = json.dumps(openai_server.history[-1]["messages"])
            assert "revenue.png" in sent and "This continues an earlier request" in sent

            session = http.get(f"/v1/sessions/{result.session_id}").json()
            assert [t["status"] for t in session["turns"]] == ["ok", "ok"]
            assert {f["name"] for f in session["files"]} == {"revenue.png", "revenue2.png"}
            listed = http.get("/v1/sessions").json()
            assert {s["id"] for s in listed["data"]} == {job["session_id"], result.session_id}

            ran = client.run(
                "open('t.csv', 'w').write('a,b\\n1,2\\n')\nprint('ok')", out=tmp_path / "run"
            )
            assert (tmp_path / "run" / "t.csv").read_text() == "a,b\n1,2\n"
            assert ran.job["result"]["stdout"] == "ok\n"

            with pytest.raises(RemoteJobFailed) as failed:
                client.run("raise SystemExit(3)", out=tmp_path / "fail")
            assert failed.value.code == "script_failed"
            assert failed.value.exit_code == 1

        # Run records: the tenant's, each with tenant and key id, and the chain verifies.
        runs = http.get("/v1/runs", params={"limit": 100}).json()
        assert len(runs["data"]) == 5 and runs["has_more"] is False
        record = http.get(f"/v1/runs/{runs['data'][0]['id']}").json()["record"]
        assert record["tenant"].startswith("ten_") and record["key_id"].startswith("key_")
        assert http.get("/v1/runs/verify").json()["ok"] is True
    verify = cli("runs", "verify")
    assert verify.returncode == 0, verify.stderr


def test_inline_multipart_job(serve: Any, openai_server: Any) -> None:
    server = serve()
    key = create_key("acme")
    with server.client(key) as http:
        script = "import shutil\nshutil.copy('inputs/sales.csv', 'copy.csv')\n"
        r = http.post(
            "/v1/jobs", data={"script": script}, files={"file": ("sales.csv", b"a,b\n1,2\n")}
        )
        assert r.status_code == 202, r.text
        job = wait_job(http, r.json()["id"])
        assert job["status"] == "succeeded", (job["error"], job["result"])
        (copy,) = job["files"]
        assert http.get(f"/v1/files/{copy['id']}/content").content == b"a,b\n1,2\n"
        openai_server.enqueue(GOOD_PNG)
        r = http.post(
            "/v1/jobs",
            data={"prompt": "Bar chart of this", "formats": ["png"]},
            files={"file": ("sales.csv", b"q,revenue\nQ1,2.1\n")},
        )
        job = wait_job(http, r.json()["id"])
        assert job["status"] == "succeeded" and job["files"][0]["name"] == "revenue.png"
        assert job["request"]["formats"] == ["png"] and len(job["request"]["inputs"]) == 1
        # the input reaches the model as its profile, computed in the sandbox
        sent = json.dumps(openai_server.history[-1]["messages"])
        assert "revenue (number" in sent and "row: Q1 | 2.1" in sent


def test_operations_endpoints(serve: Any) -> None:
    server = serve()
    key = create_key("ops")
    with server.client(key) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"engine", "image", "model"}
        spec = http.get("/openapi.json").json()
        for path in ("/v1/jobs", "/v1/files", "/v1/jobs/{job_id}/events", "/v1/runs/verify"):
            assert path in spec["paths"], path
        docs = http.get("/docs").text
        assert "/openapi.json" in docs and "<script src" not in docs and "cdn" not in docs
        http.post("/v1/jobs", json={"script": "print(1)"})
        metrics = http.get("/metrics").text
        assert 'promptkiln_jobs_submitted_total{kind="run"} 1' in metrics
        assert "promptkiln_queue_depth" in metrics
        assert http.get("/healthz").headers["x-request-id"].startswith("req_")
    log = server.log.read_text()
    assert '"path": "/v1/jobs", "status": 202' in log and '"tenant": "ops"' in log


def test_serve_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*cli.__globals__["CLI"], "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 64
    assert proc.stderr.startswith("error: refusing to listen on 0.0.0.0")
    assert "promptkiln keys create --tenant NAME" in proc.stderr


def test_failed_job_mirrors_the_cli_error_class(serve: Any, openai_server: Any) -> None:
    server = serve()
    key = create_key("acme")
    openai_server.enqueue("```python\nraise RuntimeError('column revenue_usd not found')\n```")
    openai_server.enqueue("Sorry, I cannot write code today.")
    with server.client(key) as http:
        r = http.post("/v1/jobs", json={"prompt": "chart", "formats": ["png"], "attempts": 2})
        job = wait_job(http, r.json()["id"])
        assert job["status"] == "failed" and job["files"] == []
        assert job["error"]["code"] == "attempts_exhausted"
        assert job["error"]["exit_code"] == 1
        assert "rephrase the prompt" in job["error"]["hint"]
        problems = [a["problem"] for a in job["attempts"]]
        assert "exited with status 1" in problems[0] and "no usable script" in problems[1]
        session = http.get(f"/v1/sessions/{job['session_id']}").json()
        assert [t["status"] for t in session["turns"]] == ["failed"]
        # Another tenant can neither see nor continue this session.
        with server.client(create_key("other")) as them:
            assert them.get(f"/v1/sessions/{job['session_id']}").status_code == 404
            turn = them.post(f"/v1/sessions/{job['session_id']}/turns", json={"prompt": "more"})
            assert turn.status_code == 404
            assert them.get("/v1/sessions").json()["data"] == []


def test_keys_are_shown_once_stored_hashed_and_revocable(serve: Any) -> None:
    from promptkiln.config import load_settings
    from promptkiln.records.store import Store

    server = serve()
    made = cli("keys", "create", "--tenant", "acme")
    assert made.returncode == 0, made.stderr
    *head, key = made.stdout.strip().splitlines()
    assert key.startswith("pk_") and key not in "\n".join(head)
    key_id = head[0].split()[1]
    listed = cli("keys", "list", "--json")
    assert json.loads(listed.stdout) == [
        {
            "id": key_id,
            "created": json.loads(listed.stdout)[0]["created"],
            "revoked": None,
            "tenant": "acme",
        }
    ]
    with Store.open(load_settings().home) as store:  # only the hash is kept
        dump = "\n".join(store.conn.iterdump())
    assert key not in dump and hashlib.sha256(key.encode()).hexdigest() in dump
    with server.client(key) as http:
        assert http.get("/v1/jobs").status_code == 200
        assert cli("keys", "revoke", key_id).returncode == 0
        denied = http.get("/v1/jobs")
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"
    again = cli("keys", "revoke", key_id)
    assert again.returncode == 64 and again.stderr.startswith("error: no active key")

"""The HTTP contract: SSE resume with Last-Event-ID, Idempotency-Key, and the bad-input table
(each a 4xx with one message and a hint, never a traceback)."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from .conftest import create_key, wait_job

pytestmark = [pytest.mark.docker]


def read_events(response: httpx.Response, stop_after: int | None = None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if not line:
            if "id" in current:
                events.append(current)
                if stop_after is not None and len(events) >= stop_after:
                    return events
            current = {}
        elif not line.startswith(":") and ":" in line:
            name, _, value = line.partition(":")
            current[name] = value.strip()
    return events


def test_sse_reconnect_with_last_event_id_loses_nothing(serve: Any) -> None:
    server = serve("--workers", "1")
    key = create_key("acme")
    script = "import time\nprint('a')\ntime.sleep(2)\nopen('x.csv', 'w').write('x\\n')\n"
    with server.client(key) as http:
        job_id = http.post("/v1/jobs", json={"script": script}).json()["id"]
        with http.stream("GET", f"/v1/jobs/{job_id}/events") as first:
            head = read_events(first, stop_after=3)
        assert http.get(f"/v1/jobs/{job_id}").json()["status"] in ("queued", "running")
        last = head[-1]["id"]
        with http.stream("GET", f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": last}) as r:
            tail = read_events(r)
        assert wait_job(http, job_id)["status"] == "succeeded"
        with http.stream("GET", f"/v1/jobs/{job_id}/events") as whole:
            everything = read_events(whole)
    assert head + tail == everything
    assert [int(e["id"]) for e in everything] == list(range(1, len(everything) + 1))
    kinds = [(e["event"], json.loads(e["data"])) for e in everything]
    assert kinds[0] == ("status", {"status": "queued"})
    assert ("progress", {"message": "running the script (limit 60 s)"}) in kinds
    assert kinds[-1][0] == "status" and kinds[-1][1]["status"] == "succeeded"
    assert any(k == "attempt" and d["ok"] for k, d in kinds)


def test_idempotent_retry_creates_one_job(serve: Any) -> None:
    server = serve("--workers", "1")
    key = create_key("acme")
    body = {"script": "open('a.csv', 'w').write('a\\n')\n"}
    answers: list[httpx.Response] = []

    def post() -> None:
        with server.client(key) as http:
            answers.append(http.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k-1"}))

    threads = [threading.Thread(target=post) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 4
    with server.client(key) as http:
        assert len(http.get("/v1/jobs").json()["data"]) == 1
        other = http.post(
            "/v1/jobs", json={"script": "print(2)"}, headers={"Idempotency-Key": "k-1"}
        )
        assert other.status_code == 409
        assert other.json()["error"]["code"] == "idempotency_key_reused"
        # Keys are per tenant: another tenant's same key is its own job.
    with server.client(create_key("other")) as http:
        mine = http.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k-1"})
        assert mine.status_code == 202 and mine.json()["id"] != answers[0].json()["id"]


def test_bad_input_table(serve: Any) -> None:
    server = serve("--max-upload", "1k", "--workers", "1")
    key = create_key("acme")
    other_key = create_key("other")
    with server.client(other_key) as them:
        theirs = them.post("/v1/files", files={"file": ("t.csv", b"a\n")}).json()["id"]
    anon = httpx.Client(base_url=server.url, timeout=30)
    http = server.client(key)
    cases: list[tuple[str, httpx.Response, int, str, str]] = [
        ("no key", anon.get("/v1/jobs"), 401, "missing_api_key", "keys create"),
        (
            "bad key",
            anon.get("/v1/jobs", headers={"Authorization": "Bearer pk_nope"}),
            401,
            "invalid_api_key",
            "keys create",
        ),
        (
            "malformed JSON",
            http.post("/v1/jobs", content=b"{nope", headers={"content-type": "application/json"}),
            400,
            "invalid_request",
            "JSON",
        ),
        ("not an object", http.post("/v1/jobs", json=[1]), 400, "invalid_request", "docs"),
        (
            "unknown format",
            http.post("/v1/jobs", json={"prompt": "a chart", "formats": ["docz"]}),
            400,
            "usage_error",
            "choose from",
        ),
        (
            "neither",
            http.post("/v1/jobs", json={"formats": ["png"]}),
            400,
            "invalid_request",
            "prompt",
        ),
        (
            "no format",
            http.post("/v1/jobs", json={"prompt": "something nice"}),
            400,
            "usage_error",
            "no output format",
        ),
        (
            "empty prompt",
            http.post("/v1/jobs", json={"prompt": "  "}),
            400,
            "usage_error",
            "say what",
        ),
        (
            "unknown field",
            http.post("/v1/jobs", json={"prompt": "x", "colour": 1}),
            400,
            "invalid_request",
            "docs",
        ),
        (
            "too big",
            http.post("/v1/files", files={"file": ("big.csv", b"x" * 5000)}),
            413,
            "upload_too_large",
            "1,024-byte",
        ),
        (
            "huge body",
            http.post("/v1/files", files={"file": ("big.csv", b"x" * 200_000)}),
            413,
            "upload_too_large",
            "1,024-byte",
        ),
        (
            "bidi name",
            http.post("/v1/files", files={"file": ("a\u202egnp.csv", b"x")}),
            400,
            "bad_file_name",
            "rename",
        ),
        (
            "unknown job",
            http.get("/v1/jobs/job_000000000000000000000000"),
            404,
            "not_found",
            "check the id",
        ),
        ("garbage id", http.get("/v1/jobs/..%2F..%2Fetc"), 404, "not_found", ""),
        ("unknown session", http.get("/v1/sessions/ses_abc"), 404, "not_found", "check the id"),
        (
            "other tenant's input",
            http.post("/v1/jobs", json={"prompt": "x", "inputs": [theirs]}),
            404,
            "not_found",
            "check the id",
        ),
        (
            "too many inputs",
            http.post("/v1/jobs", json={"prompt": "x", "inputs": [theirs] * 100 + ["f"]}),
            400,
            "invalid_request",
            "docs",
        ),
        (
            "limit above ceiling",
            http.post("/v1/jobs", json={"script": "print(1)", "limits": {"timeout": 100000}}),
            429,
            "limits_ceiling",
            "at most 60",
        ),
        (
            "negative limit",
            http.post("/v1/jobs", json={"script": "print(1)", "limits": {"timeout": -5}}),
            400,
            "config_error",
            "limits.timeout",
        ),
        (
            "unknown limit",
            http.post("/v1/jobs", json={"script": "print(1)", "limits": {"gpus": 1}}),
            400,
            "invalid_request",
            "one of",
        ),
        (
            "model not offered",
            http.post("/v1/jobs", json={"prompt": "x", "model": "openai/gpt-4o"}),
            400,
            "model_not_allowed",
            "default",
        ),
        (
            "engine not offered",
            http.post("/v1/jobs", json={"prompt": "x", "formats": ["png"], "engine": "claude"}),
            400,
            "engine_not_allowed",
            "--allow-engine",
        ),
        (
            "attempts out of range",
            http.post("/v1/jobs", json={"prompt": "x", "attempts": 50}),
            400,
            "invalid_request",
            "docs",
        ),
        ("no such path", http.get("/v1/nothing"), 404, "not_found", "docs"),
    ]
    for name, response, status, code, hint_part in cases:
        assert response.status_code == status, (name, response.text)
        error = response.json()["error"]
        assert error["code"] == code, (name, error)
        assert error["message"] and "\n" not in error["message"], (name, error)
        assert hint_part in (error["message"] + " " + (error["hint"] or "")), (name, error)
        assert error["request_id"] == response.headers["x-request-id"], name
        assert "Traceback" not in response.text, name
    # A hostile name is sanitised like an output: only a plain leaf is kept.
    up = http.post("/v1/files", files={"file": ("../../etc/passwd", b"root:x\n")})
    assert up.status_code == 201 and up.json()["name"] == "passwd"
    quoted = http.post("/v1/files", files={"file": ('r"e.csv', b"a\n")})
    assert quoted.status_code == 400 and "not allowed" in quoted.json()["error"]["message"]
    accented = http.post("/v1/files", files={"file": ("résumé ü.csv", b"a\n")}).json()
    disposition = http.get(f"/v1/files/{accented['id']}/content").headers["content-disposition"]
    assert disposition == (
        "attachment; filename=\"r_sum_ _.csv\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%BC.csv"
    )
    # 429 with Retry-After for a tenant over its jobs-per-hour cap.
    capped = server.client(create_key("capped", "--jobs-per-hour", "1"))
    assert capped.post("/v1/jobs", json={"script": "print(1)"}).status_code == 202
    over = capped.post("/v1/jobs", json={"script": "print(1)"})
    assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
    assert over.json()["error"]["code"] == "too_many_jobs_per_hour"
    small = server.client(create_key("small", "--upload-bytes-per-hour", "30"))
    assert small.post("/v1/files", files={"file": ("a.csv", b"x" * 20)}).status_code == 201
    over = small.post("/v1/files", files={"file": ("b.csv", b"x" * 20)})
    assert over.status_code == 429 and over.headers["retry-after"]
    assert over.json()["error"]["code"] == "upload_quota"
    for c in (anon, http, capped, small):
        c.close()

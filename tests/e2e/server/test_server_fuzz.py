"""Schemathesis against the server's own /openapi.json: every operation, as tenant A, through
all four phases (examples, coverage, fuzzing, stateful over the OpenAPI links).

Checks: no 5xx, status codes, content types, headers and bodies as documented, auth not ignored,
405s with ``Allow``, a created resource is there and a cancelled one behaves, and
``no_cross_tenant`` (fuzz_hooks.py): tenant B asking for any of A's ids gets 404, B's lists show
none of A's ids, and B's ids never show up in A's answers.

Not checked: ``positive_data_acceptance`` and ``negative_data_rejection``. The job routes refuse
schema-valid bodies for reasons no schema can say (an empty prompt, a model the server does not
offer, an input id that is not yours) and ``file`` accepts any bytes, so both would flag the
API's own rules.

Jobs run for real (Docker) but never a model: ``run`` jobs run the fuzzed scripts, and ``make``
jobs meet the scripted model server, which answers the two seeded jobs and then 418 (the job
fails at once). Tenant A may have 3 jobs active, so the fuzzer mostly meets 429s after that.

The run in ``make test`` is short (``FUZZ_EXAMPLES``, default 3, fixed seed);
``make fuzz`` runs it with more examples and prints Schemathesis's summary.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import create_key, wait_job

pytestmark = [pytest.mark.docker]

HERE = Path(__file__).resolve().parent
SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]
CSV_REPLY = "```python\nopen('table.csv', 'w').write('q,v\\n1,2\\n')\n```\n"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance,missing_required_header,"
    "unsupported_method,use_after_free,ensure_resource_availability,ignored_auth,"
    "no_cross_tenant"
)


def _seed(http: Any) -> list[str]:
    """A file, a job (with its files and run record) and a session of this tenant."""
    made = http.post("/v1/files", files={"file": ("seed.csv", b"a,b\n1,2\n")})
    assert made.status_code == 201, made.text
    ids = [made.json()["id"]]
    job = http.post("/v1/jobs", json={"prompt": "a small table", "formats": ["csv"]}).json()
    done = wait_job(http, job["id"])
    assert done["status"] == "succeeded", done
    runs = [a["run_id"] for a in done["attempts"]]
    return [*ids, job["id"], done["session_id"], *runs, *(f["id"] for f in done["files"])]


def test_schemathesis_finds_no_failure(
    serve: Any, openai_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMPTKILN_POOL__SIZE", "0")
    server = serve("--workers", "1")
    key_a = create_key("fuzz-a", "--max-active-jobs", "3")
    key_b = create_key("fuzz-b")
    openai_server.enqueue(CSV_REPLY)
    with server.client(key_b) as http:
        theirs = _seed(http)
    openai_server.enqueue(CSV_REPLY)
    with server.client(key_a) as http:
        _seed(http)
    examples = os.environ.get("FUZZ_EXAMPLES", "3")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "fuzz_hooks",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "PROMPTKILN_FUZZ_OTHER_KEY": key_b,
        "PROMPTKILN_FUZZ_OTHER_IDS": ",".join(theirs),
    }
    proc = subprocess.run(
        [
            *SCHEMATHESIS, "run", f"{server.url}/openapi.json",
            "--header", f"Authorization: Bearer {key_a}",
            "--generation-with-security-parameters", "false",
            "--checks", CHECKS,
            "--max-examples", examples,
            "--seed", os.environ.get("FUZZ_SEED", "22"),
            "--workers", "1",
            "--request-timeout", "20",
            "--exclude-path", "/readyz",  # its 503 is the answer while the model warms up
            "--no-color",
        ],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=3600,
    )  # fmt: skip
    summary = proc.stdout[proc.stdout.find("SUMMARY") - 40 :]
    print(proc.stdout[:3000] if os.environ.get("FUZZ_VERBOSE") else summary)
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", proc.stdout)
    tested = re.search(r"Tested: (\d+)", proc.stdout)
    assert selected and tested, summary
    # every operation but /readyz, and every selected one tested
    assert int(selected[1]) == int(selected[2]) - 1 == int(tested[1]) >= 19, summary


def test_events_after_a_number_past_any_event_answers_400_not_a_broken_stream(serve: Any) -> None:
    """Found by ``make fuzz``: ``?after=9238392082949734400`` (past a 64-bit integer) passed
    validation, and the stream's query failed after the headers were sent: a chunked response
    cut off mid-stream. A Last-Event-ID past it is ignored, as any unusable one is."""
    server = serve("--workers", "1")
    with server.client(create_key("acme")) as http:
        job_id = http.post("/v1/jobs", json={"script": "print(1)\n"}).json()["id"]
        wait_job(http, job_id)
        huge = "9238392082949734400"
        r = http.get(f"/v1/jobs/{job_id}/events", params={"after": huge})
        assert r.status_code == 400 and r.json()["error"]["param"] == "query.after", r.text
        r = http.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": huge})
        assert r.status_code == 200 and "event: status" in r.text
        assert '"succeeded"' in r.text or '"failed"' in r.text

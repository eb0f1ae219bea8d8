"""The plan through real litellm against the scripted OpenAI-compatible server, the profile and
the scripts in the real sandbox: what the model server receives, and what make() does with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptkiln.config import load_settings
from promptkiln.llm.plan import ASK_PLAN, ASK_SCRIPT
from promptkiln.making.make import make

pytestmark = [pytest.mark.docker]

CSV = (
    b"city,day,temp\nOslo,2024-03-01,2\nOslo,2024-03-02,4\nRome,2024-03-01,14\nRome,2024-03-02,15\n"
)
SCRIPT = """```python
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
df = pd.read_csv("inputs/temps.csv")
s = df.groupby("city")["temp"].agg("mean").sort_values(ascending=False)
fig, ax = plt.subplots()
ax.bar(list(s.index), list(s.values))
ax.set_title("Mean temperature per city")
fig.savefig("temps.png")
```"""


def plan(**chart: Any) -> str:
    fields = {"kind": "bar", "title": "Mean temperature per city", "x": "City", "y": "temp",
              "agg": "mean", "sort": "desc", **chart}  # fmt: skip
    return json.dumps(
        {"files": [{"name": "temps.png", "title": "Temperatures", "charts": [fields]}]}, indent=2
    )


def run(server: Any, tmp_path: Path, **kw: Any) -> tuple[Any, list[str]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "temps.csv").write_bytes(CSV)
    said: list[str] = []
    kw.setdefault("plan", True)
    settings = load_settings(
        model="openai/test-model", api_base=server.url, limits={"timeout": 120}, **kw
    )
    result = make(
        "a bar chart of the mean temperature per city, highest first",
        formats=["png"],
        inputs=[tmp_path / "temps.csv"],
        out=tmp_path / "out",
        settings=settings,
        progress=said.append,
    )
    return result, said


def test_the_plan_is_asked_under_its_schema_and_the_script_extends_it(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(plan())
    openai_server.enqueue(SCRIPT)
    result, said = run(openai_server, tmp_path)
    first, second = openai_server.history
    # the plan call: the JSON schema reached the server (llama.cpp makes it a grammar)
    schema = first["response_format"]["json_schema"]["schema"]
    assert first["response_format"]["type"] == "json_schema" and schema["required"] == ["files"]
    assert first["temperature"] == 0.0 and first["max_tokens"] == 400
    user = first["messages"][1]["content"]
    assert "- inputs/temps.csv: 4 rows, columns:" in user  # the profile, made in the sandbox
    assert "city (text; 2 values: Oslo 2, Rome 2)" in user and user.endswith(ASK_PLAN)
    # the script call extends the plan call: same system and user, the plan, then the ask
    assert "response_format" not in second
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert second["messages"][:2] == first["messages"]
    planned = json.loads(second["messages"][2]["content"])
    assert planned["files"][0]["charts"][0]["x"] == "city"  # "City" normalised to the real name
    ask = second["messages"][3]["content"]
    assert '- df = pd.read_csv("inputs/temps.csv")' in ask and ask.endswith(ASK_SCRIPT)
    assert 'df.groupby("city")["temp"].agg("mean").sort_values(ascending=False)' in ask
    # make() kept them for the judge, the record and --json
    assert result.plan is not None and result.plan.files[0].charts[0].x == "city"
    assert result.profile is not None and result.profile.table() is not None
    assert {"profile_s", "plan_s"} <= set(result.timings)
    assert any(s.startswith("plan (") and "bar city x temp (mean, desc)" in s for s in said)


def test_a_plan_with_a_problem_goes_back_once_with_the_problem(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(plan(y="city"))  # the mean of a text column
    openai_server.enqueue(plan())
    openai_server.enqueue(SCRIPT)
    result, _ = run(openai_server, tmp_path)
    retry = openai_server.history[1]["messages"][-1]["content"]
    assert retry.startswith("Fix these problems in the plan:\n- temps.png, chart ")
    assert "the mean of 'city' is wrong, it is a text column" in retry
    assert "response_format" in openai_server.history[1]
    script_request = openai_server.history[2]["messages"]
    roles = ["system", "user", "assistant", "user", "assistant", "user"]
    assert [m["role"] for m in script_request] == roles
    assert "Problems left" not in script_request[-1]["content"]
    assert result.plan is not None and result.plan.files[0].charts[0].y == "temp"


def test_a_data_problem_the_model_leaves_makes_the_result_unmet(
    openai_server: Any, tmp_path: Path
) -> None:
    # one bar per row of a city twice (no aggregation), asked for twice: left unfixed
    openai_server.enqueue(plan(agg="none"))
    openai_server.enqueue(plan(agg="none"))
    openai_server.enqueue(SCRIPT)  # the script means well; the plan it was given does not
    result, said = run(openai_server, tmp_path, attempts=1)
    assert result.status == "unmet" and result.files == []
    failed = [o for o in result.requirements if o.requirement.kind == "plan"]
    assert not any(o.met for o in failed)
    details = [o.detail for o in failed]  # bars per row, and no mean although "the mean"
    assert any("'city' has 2 distinct values in 4 rows" in d for d in details), details
    assert any(d.startswith("the request asks for the average") for d in details), details
    assert any(s.startswith("not delivering the files") for s in said)
    # --accept-unmet delivers them, with the plan's problem as a warning
    for answer in (plan(agg="none"), plan(agg="none"), SCRIPT):
        openai_server.enqueue(answer)
    result, _ = run(openai_server, tmp_path / "accepted", accept_unmet=True, attempts=1)
    assert result.status == "unmet" and result.files
    assert "plan" in [o.requirement.kind for o in result.requirements if not o.met]
    assert any("the plan fits the inputs and the request" in w for w in result.warnings)


def test_no_plan_when_the_server_refuses_the_schema_and_with_no_plan(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue_error(400, "response_format json_schema is not supported")
    openai_server.enqueue(SCRIPT)
    result, said = run(openai_server, tmp_path)
    assert result.plan is None and result.files
    assert any(s.startswith("plan off: the model could not answer with a JSON plan") for s in said)
    script_request = openai_server.history[1]["messages"]
    assert [m["role"] for m in script_request] == ["system", "user"]
    assert ASK_PLAN not in script_request[1]["content"]
    # --no-plan: one call, no schema, the profile still in the request
    openai_server.enqueue(SCRIPT)
    result, _ = run(openai_server, tmp_path / "again", plan=False)
    only = openai_server.history[2]
    assert "response_format" not in only and result.plan is None
    assert "inputs/temps.csv: 4 rows" in only["messages"][1]["content"]


def test_the_cli_json_and_the_run_record_carry_the_plan_and_the_profile(
    openai_server: Any, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    openai_server.enqueue(plan())
    openai_server.enqueue(SCRIPT)
    (tmp_path / "temps.csv").write_bytes(CSV)
    env = {**os.environ, "PROMPTKILN_MODEL": "openai/test-model",
           "PROMPTKILN_API_BASE": openai_server.url, "PROMPTKILN_PLAN": "true"}  # fmt: skip
    argv = [sys.executable, "-m", "promptkiln.cli", "make", "mean temperature per city",
            "-f", "png", "-i", "temps.csv", "-o", "out", "--json"]  # fmt: skip
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert manifest["plan"]["files"][0]["charts"][0]["x"] == "city"
    assert manifest["profile"]["inputs"][0]["tables"][0]["rows"] == 4
    cli = [sys.executable, "-m", "promptkiln.cli", "runs"]
    listed = subprocess.run([*cli, "--json"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    rows = rows["data"] if isinstance(rows, dict) else rows
    shown = subprocess.run([*cli, "show", rows[0]["id"], "--json"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    body = record.get("body", record)
    assert body["plan"]["files"][0]["charts"][0]["agg"] == "mean"
    assert body["profile"]["inputs"][0]["file"] == "temps.csv"

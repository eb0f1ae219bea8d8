"""The E2B JS SDKs (``e2b`` and ``@e2b/code-interpreter`` 2.x from npm) against ``promptkiln
serve``: e2b_js/example.mjs. Needs node and the packages installed where ``E2B_JS_MODULES``
points: ``make test`` installs them from npm under ``.cache/e2b-js`` (its ``e2b-js`` step) and
points there; pytest itself never downloads anything, and without them this test skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import create_key

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_the_js_sdks_documented_calls(serve: Any, tmp_path: Path) -> None:
    modules = os.environ.get("E2B_JS_MODULES", "")
    node = shutil.which("node")
    if not node or not modules or not (Path(modules) / "@e2b" / "code-interpreter").is_dir():
        pytest.skip("node and E2B_JS_MODULES (a node_modules with e2b and @e2b/code-interpreter)")
    key = create_key("alice")
    server = serve("--e2b-pool", "0")
    script = tmp_path / "example.mjs"
    script.write_text((Path(__file__).parent / "e2b_js" / "example.mjs").read_text())
    (tmp_path / "node_modules").symlink_to(modules)
    env = {
        **os.environ,
        "E2B_API_URL": server.url,
        "E2B_SANDBOX_URL": server.url,
        "E2B_API_KEY": key,
    }
    env.pop("E2B_DOMAIN", None)
    done = subprocess.run(
        [node, str(script)], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["stdout"] == "hello\n1000\n" and out["streamed"] == "hello\n1000\n"
    assert out["read"] == "Hello, world!" and out["listed"] is True
    assert "png" in out["formats"][0] and out["text"] == "42"
    assert out["png"].startswith("iVBORw0K")  # base64 of a PNG's signature

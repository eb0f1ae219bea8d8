"""The built sandbox image, run for real with the locked-down flags the Docker backend uses.

Needs a running engine and the image (`make image`). No mocks: every check starts a container
with --read-only, --network none, --cap-drop ALL, uid 1000, --init, a tmpfs /tmp and a
tmpfs-backed named volume at /home/user; each container and volume is labelled with the test id
and removed afterwards.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkiln.image.status import DEFAULT_TAG, VERSION_LABEL, image_status, images_dir

pytestmark = [pytest.mark.docker]

TAG = os.environ.get("PROMPTKILN_IMAGE", DEFAULT_TAG)
#: import name -> distribution name, for every library the sandbox contract promises.
STACK = {
    "reportlab": "reportlab",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "openpyxl": "openpyxl",
    "xlsxwriter": "XlsxWriter",
    "pandas": "pandas",
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "seaborn": "seaborn",
    "PIL": "pillow",
    "pypdf": "pypdf",
    "pdfplumber": "pdfplumber",
    "scipy": "scipy",
}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from promptkiln.sandbox.docker import connect

    client = connect()
    if image_status(client, TAG).exists is False:
        pytest.fail(f"image {TAG} is missing: run `make image`")
    yield client
    client.close()


class Locked:
    """Runs commands in fresh locked-down containers of the image."""

    def __init__(self, client: Any, test_id: str) -> None:
        self.client = client
        self.labels = {"promptkiln.test": test_id[-60:]}

    def run(self, *command: str, runtime: str | None = None) -> tuple[int, str, str]:
        volume = self.client.volumes.create(
            name=f"pk-test-home-{uuid.uuid4().hex[:12]}",
            driver="local",
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=128m,uid=1000,gid=1000"},
            labels=self.labels,
        )
        container = None
        try:
            container = self.client.containers.create(
                TAG,
                list(command),
                user="1000:1000",
                read_only=True,
                network_mode="none",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                init=True,
                pids_limit=256,
                mem_limit="1g",
                tmpfs={"/tmp": "rw,nosuid,nodev,size=256m"},
                volumes={volume.name: {"bind": "/home/user", "mode": "rw"}},
                working_dir="/home/user",
                environment={},
                labels=self.labels,
                runtime=runtime,
            )
            container.start()
            code = container.wait(timeout=180)["StatusCode"]
            out = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
            err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
            return code, out, err
        finally:
            if container is not None:
                container.remove(force=True)
            volume.remove(force=True)

    def python(self, code: str, runtime: str | None = None) -> tuple[int, str, str]:
        """Run ``code`` with python3 in /home/user/work (made first: the volume starts empty)."""
        script = 'mkdir -p /home/user/work && cd /home/user/work && exec python3 -c "$0"'
        return self.run("/bin/sh", "-c", script, code, runtime=runtime)


@pytest.fixture
def locked(client: Any, request: pytest.FixtureRequest) -> Locked:
    return Locked(client, request.node.nodeid)


def test_image_status_reports_current(client: Any) -> None:
    status = image_status(client, TAG)
    assert status.fresh, status.problem
    assert not status.stale
    assert status.problem is None
    assert status.size and status.size > 100_000_000
    info = client.api.inspect_image(TAG)
    labels = info["Config"]["Labels"]
    assert labels["org.opencontainers.image.title"] == "promptkiln-sandbox"
    assert labels[VERSION_LABEL] == status.expected_version
    assert "current" in str(status)


def test_image_config_user_workdir_env(client: Any) -> None:
    config = client.api.inspect_image(TAG)["Config"]
    assert config["User"] == "user"
    assert config["WorkingDir"] == "/home/user/work"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HOME"] == "/home/user"
    assert env["MPLBACKEND"] == "Agg"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["MPLCONFIGDIR"].startswith("/tmp/")


def test_user_and_basic_tools(locked: Locked) -> None:
    code, out, err = locked.run(
        "/bin/sh",
        "-c",
        "id -u; id -g; id -un; echo $HOME; command -v sleep; sleep 0; "
        "command -v envd || echo no-envd; ls /usr/bin/envd /usr/local/bin/envd 2>&1 | wc -l; "
        "touch /opt/x 2>/dev/null && echo root-writable || echo root-read-only; "
        "mkdir -p /home/user/work && cd /home/user/work && touch ok && echo home-writable",
    )
    assert code == 0, err
    lines = out.split()
    assert lines[:4] == ["1000", "1000", "user", "/home/user"]
    assert "/bin/sleep" in out or "/usr/bin/sleep" in out
    assert "no-envd" in out
    assert "root-read-only" in out
    assert "home-writable" in out


def test_no_setuid_or_setgid_programs(locked: Locked) -> None:
    """Nothing in the image can raise privileges (su, passwd, mount... are stripped)."""
    code, out, err = locked.run(
        "/bin/sh", "-c", "find / -xdev -perm /6000 -type f 2>/dev/null; echo done"
    )
    assert code == 0, err
    assert out.split() == ["done"], out


def test_image_passwd_entry(locked: Locked) -> None:
    code, out, err = locked.run("/bin/sh", "-c", "getent passwd user; getent group user")
    assert code == 0, err
    assert out.splitlines()[0].startswith("user:x:1000:1000:")
    assert ":/home/user:" in out.splitlines()[0]
    assert out.splitlines()[1].startswith("user:x:1000:")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (images_dir() / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_every_library_imports_at_its_pin_without_warnings(locked: Locked) -> None:
    code = f"""
import importlib, importlib.metadata as md, json, sys, warnings
warnings.simplefilter("error")
stack = {STACK!r}
for module in stack:
    importlib.import_module(module)
print(json.dumps({{dist: md.version(dist) for dist in stack.values()}}))
print(sys.version_info[:2], file=sys.stderr)
"""
    status, out, err = locked.python(code)
    assert status == 0, err
    versions = json.loads(out)
    pins = _pins()
    for dist, version in versions.items():
        assert pins[dist.lower()] == version, dist
    # Nothing but the version line: no matplotlib cache warning, no other noise.
    assert err.strip() == "(3, 11)"


def test_matplotlib_renders_png_with_agg_and_cjk_font(locked: Locked) -> None:
    code = """
import json, warnings
warnings.simplefilter("error")  # a missing glyph would warn
import matplotlib
import matplotlib.pyplot as plt
from matplotlib import font_manager
cjk = font_manager.findfont(
    font_manager.FontProperties(family="WenQuanYi Micro Hei"), fallback_to_default=False
)
plt.rcParams["font.family"] = ["DejaVu Sans", "WenQuanYi Micro Hei"]
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(["Q1", "Q2", "Q3", "Q4"], [2.1, 2.8, 3.2, 3.9])
ax.set_title("季度收入 四半期 분기 — Quarterly revenue")
fig.savefig("chart.png", dpi=100)
with open("chart.png", "rb") as fh:
    head = fh.read(8)
print(json.dumps({
    "backend": matplotlib.get_backend(),
    "cjk": cjk,
    "png": head == b"\\x89PNG\\r\\n\\x1a\\n",
    "liberation": font_manager.findfont("Liberation Sans", fallback_to_default=False),
}))
"""
    status, out, err = locked.python(code)
    assert status == 0, err
    result = json.loads(out)
    assert result["backend"].lower() == "agg"
    assert result["png"] is True
    assert "wqy" in result["cjk"].lower()
    assert Path(result["liberation"]).name.startswith("LiberationSans")
    assert err == ""


def test_documents_are_written(locked: Locked) -> None:
    code = """
import io
import pandas as pd, numpy as np
from reportlab.pdfgen import canvas
from docx import Document
from pptx import Presentation
import openpyxl, xlsxwriter, pypdf, pdfplumber
c = canvas.Canvas("r.pdf"); c.drawString(72, 720, "hello sandbox"); c.save()
assert "hello sandbox" in pypdf.PdfReader("r.pdf").pages[0].extract_text()
with pdfplumber.open("r.pdf") as pdf:
    assert "hello sandbox" in pdf.pages[0].extract_text()
d = Document(); d.add_paragraph("x"); d.save("d.docx")
p = Presentation(); p.slides.add_slide(p.slide_layouts[0]); p.save("p.pptx")
pd.DataFrame({"a": np.arange(3)}).to_excel("x.xlsx", index=False, engine="openpyxl")
pd.DataFrame({"a": np.arange(3)}).to_excel("y.xlsx", index=False, engine="xlsxwriter")
assert openpyxl.load_workbook("y.xlsx").active["A2"].value == 0
print("documents ok")
"""
    status, out, err = locked.python(code)
    assert status == 0, err
    assert out.strip() == "documents ok"


def test_gvisor_runtime_when_registered(client: Any, locked: Locked) -> None:
    if "runsc" not in (client.info().get("Runtimes") or {}):
        pytest.skip("gVisor (runsc) is not registered: scripts/ensure-docker.sh --gvisor")
    status, out, err = locked.python(
        "import matplotlib.pyplot, pandas, platform; print(platform.release())", runtime="runsc"
    )
    assert status == 0, err
    assert out.strip()

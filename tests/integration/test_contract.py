"""The sandbox contract, against real backends: inputs in, real documents out, limits enforced.

Every backend in BACKENDS runs the same suite; the files that come out are re-opened with their
own libraries and checked against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from promptkiln.config import Settings, load_settings
from promptkiln.making.pipeline import run_in_sandbox
from promptkiln.sandbox.base import InputFile, Termination

SCRIPTS = Path(__file__).parent / "scripts"
SALES = b"region,revenue\nNorth,2100000\nSouth,2800000\nEast,3200000\nWest,3900000\n"
#: "docker-warm": the Docker backend through a warmed sandbox, as the pool hands them out (the
#: warm interpreter, inputs on its job line, outputs sent back on its stream). "e2b-kernel": the
#: E2B backend in kernel mode on the stock code-interpreter template (run_code in its kernel).
BACKENDS = ["docker", "docker-warm", "e2b", "e2b-kernel"]
_warm: list[bool] = [False]

pytestmark = [pytest.mark.docker]


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest) -> Settings:
    if request.param in ("e2b", "e2b-kernel"):
        request.applymarker(pytest.mark.e2b)
        base: Settings = request.getfixturevalue("e2b_settings")
        if request.param == "e2b-kernel":
            pytest.importorskip("e2b_code_interpreter")
            kernel = {"template": "code-interpreter-v1", "kernel": True}
            return base.model_copy(update={"e2b": base.e2b.model_copy(update=kernel)})
        return base
    _warm[0] = request.param == "docker-warm"
    return load_settings(backend="docker", limits={"timeout": 60})


def run(
    settings: Settings,
    script: str | bytes,
    tmp_path: Path,
    inputs: list[InputFile] | None = None,
    **kw: Any,
) -> Any:
    code = (SCRIPTS / script).read_bytes() if isinstance(script, str) else script
    if _warm[0] and settings.backend == "docker" and "factory" not in kw:
        from promptkiln.sandbox.docker import DockerSandbox

        kw["factory"] = lambda s, run_id: DockerSandbox(s, run_id, warm=True)
    return run_in_sandbox(code, inputs or [], tmp_path / "out", settings, **kw)


def check_manifest(result: Any, expected_names: set[str]) -> dict[str, Path]:
    assert result.result.exit_code == 0, result.result.stderr.text
    assert {a.name for a in result.artifacts} == expected_names
    assert result.rejections == []
    paths = {}
    for art in result.artifacts:
        path = Path(art.path)
        data = path.read_bytes()
        assert len(data) == art.size
        assert hashlib.sha256(data).hexdigest() == art.sha256
        assert path.stat().st_mode & 0o7777 == 0o644
        paths[art.name] = path
    return paths


def test_chart_png_reads_input(settings: Settings, tmp_path: Path) -> None:
    from PIL import Image

    result = run(settings, "chart.py", tmp_path, [InputFile("sales.csv", SALES)])
    paths = check_manifest(result, {"chart.png"})
    assert "4 bars" in result.result.stdout.text
    (art,) = result.artifacts
    assert art.media_type == "image/png"
    with Image.open(paths["chart.png"]) as img:
        assert img.size == (600, 400)


def test_reportlab_pdf(settings: Settings, tmp_path: Path) -> None:
    from pypdf import PdfReader

    paths = check_manifest(run(settings, "report_pdf.py", tmp_path), {"report.pdf"})
    text = PdfReader(paths["report.pdf"]).pages[0].extract_text()
    assert "Q1 sales report" in text


def test_openpyxl_xlsx_with_formula_and_chart(settings: Settings, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    result = run(settings, "workbook_xlsx.py", tmp_path)
    paths = check_manifest(result, {"sales.xlsx"})
    assert result.artifacts[0].media_type.endswith("spreadsheetml.sheet")
    ws = load_workbook(paths["sales.xlsx"])["Sales"]
    assert ws["B6"].value == "=SUM(B2:B5)"
    with zipfile.ZipFile(paths["sales.xlsx"]) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())


def test_python_docx(settings: Settings, tmp_path: Path) -> None:
    from docx import Document

    paths = check_manifest(run(settings, "memo_docx.py", tmp_path), {"memo.docx"})
    doc = Document(str(paths["memo.docx"]))
    assert doc.paragraphs[0].text == "Memo"
    assert doc.tables[0].cell(1, 1).text == "2.1M"


def test_python_pptx_chart(settings: Settings, tmp_path: Path) -> None:
    from pptx import Presentation

    paths = check_manifest(run(settings, "deck_pptx.py", tmp_path), {"deck.pptx"})
    slide = Presentation(str(paths["deck.pptx"])).slides[0]
    assert any(shape.has_chart for shape in slide.shapes)


def test_nonzero_exit_is_a_result(settings: Settings, tmp_path: Path) -> None:
    result = run(
        settings, b"import sys\nopen('partial.txt','w').write('x')\nsys.exit('boom')\n", tmp_path
    )
    assert result.result.termination is Termination.EXITED
    assert result.result.exit_code == 1
    assert "boom" in result.result.stderr.text


def test_timeout_kills_and_delivers_nothing(settings: Settings, tmp_path: Path) -> None:
    slow = load_settings(
        **{**settings.model_dump(), "limits": {**settings.limits.model_dump(), "timeout": 2}}
    )
    result = run(slow, b"import time\nopen('early.txt','w').write('x')\ntime.sleep(60)\n", tmp_path)
    assert result.result.termination is Termination.TIMEOUT
    assert result.result.duration_s < 15
    assert result.artifacts == []
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_inputs_are_not_outputs_and_nested_outputs_are(settings: Settings, tmp_path: Path) -> None:
    script = b"""
import os, json
os.makedirs('charts/q1', exist_ok=True)
open('charts/q1/a.json','w').write(json.dumps({'inputs': sorted(os.listdir('inputs'))}))
open('inputs/changed.csv','w').write('edited')
"""
    result = run(settings, script, tmp_path, [InputFile("a.csv", b"x\n1\n")])
    paths = check_manifest(result, {"charts/q1/a.json"})
    assert json.loads(paths["charts/q1/a.json"].read_text()) == {"inputs": ["a.csv"]}


def test_hostile_names_and_links_are_rejected(settings: Settings, tmp_path: Path) -> None:
    script = b"""
import os
open('good.txt','w').write('fine')
os.symlink('/etc/passwd', 'link.txt')
open('evil\\x1b[31m.txt','w').write('x')
open('bidi\\u202etxt.exe','w').write('x')
os.mkfifo('pipe')
"""
    result = run(settings, script, tmp_path)
    assert result.result.exit_code == 0, result.result.stderr.text
    assert [a.name for a in result.artifacts] == ["good.txt"]
    reasons = {r.name: r.reason for r in result.rejections}
    assert len(reasons) == 4, reasons
    for name in reasons:
        assert "\x1b" not in name and "\u202e" not in name


def test_environment_has_no_host_secrets(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-canary")
    script = b"import os, json\nopen('env.json','w').write(json.dumps(dict(os.environ)))\n"
    result = run(settings, script, tmp_path)
    paths = check_manifest(result, {"env.json"})
    env = json.loads(paths["env.json"].read_text())
    assert "sk-host-secret-canary" not in json.dumps(env)
    assert env["HOME"] == "/home/user"


def test_no_network(settings: Settings, tmp_path: Path) -> None:
    script = b"""
import socket
try:
    socket.create_connection(('1.1.1.1', 53), timeout=3)
    print('CONNECTED')
except OSError as exc:
    print('blocked', exc)
"""
    result = run(settings, script, tmp_path)
    assert "blocked" in result.result.stdout.text
    assert "CONNECTED" not in result.result.stdout.text


def test_stdout_is_capped_and_marked(settings: Settings, tmp_path: Path) -> None:
    result = run(settings, b"import sys\nsys.stdout.write('x' * 5_000_000)\n", tmp_path)
    out = result.result.stdout
    assert len(out.data) == settings.limits.log_bytes
    assert out.truncated and out.dropped == 5_000_000 - settings.limits.log_bytes


def test_second_run_sees_nothing_of_the_first(settings: Settings, tmp_path: Path) -> None:
    run(
        settings,
        b"open('/tmp/secret-from-run-1','w').write('x')\nopen('left.txt','w').write('x')\n",
        tmp_path / "a",
    )
    result = run(
        settings,
        b"import os\nprint(os.path.exists('/tmp/secret-from-run-1'), sorted(os.listdir('.')))\n",
        tmp_path / "b",
    )
    assert result.result.stdout.text.strip() == "False ['inputs']"


def test_outputs_written_in_one_piece_with_unicode_names(
    settings: Settings, tmp_path: Path
) -> None:
    script = "open('résumé 报告.txt','w').write('ok')\n".encode()
    result = run(settings, script, tmp_path)
    paths = check_manifest(result, {"résumé 报告.txt"})
    assert paths["résumé 报告.txt"].read_text() == "ok"

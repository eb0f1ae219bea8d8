"""The house's import contracts ([tool.importlinter] in pyproject) hold, and they do catch a
room importing one above it and a new cycle (a contract that cannot fail checks nothing)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")
#: Folders at the top level that import as promptkiln.<name> (pyproject package-dir).
MAPPED = ("sandbox", "llm", "server", "engines")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is in the dev extra")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), str(ROOT / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold() -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "lint-imports.sh")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # sandbox/ must not import a room above it (and pipeline imports sandbox: a cycle too)
        ("sandbox/collect.py", "from promptkiln.making import pipeline", "layers"),
        # two modules of one room importing each other: hints imports failure
        ("promptkiln/making/failure.py", "from promptkiln.making import hints", "no cycles"),
    ],
)
def test_a_new_upward_import_or_cycle_breaks_lint(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    package = tmp_path / "promptkiln"
    shutil.copytree(ROOT / "promptkiln", package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in MAPPED:
        shutil.copytree(ROOT / name, package / name, ignore=shutil.ignore_patterns("__pycache__"))
    copy = package / module.removeprefix("promptkiln/")
    copy.write_text(copy.read_text() + f"\n{line}  # deliberate\n")

    done = _lint(tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    report = done.stdout[done.stdout.index("Broken contracts") :]
    assert broken in report

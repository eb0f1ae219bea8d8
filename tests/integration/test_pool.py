"""The warm pool and the warm interpreter, against the real Docker engine.

A pooled sandbox is single-use: a job must find no trace of the job before it (files,
processes, environment, imported-module state). A script in the warm interpreter must see what
it would see in a cold ``python3 main.py``. PID 1 runs as another uid than the script.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from promptkiln.config import Settings, load_settings
from promptkiln.errors import OutputRejected, PromptkilnError
from promptkiln.making.pipeline import run_in_sandbox
from promptkiln.sandbox.base import InputFile
from promptkiln.sandbox.docker import DockerSandbox
from promptkiln.sandbox.docker_warm import INLINE_INPUT_BYTES
from promptkiln.sandbox.pool import PooledSandbox, SandboxPool

pytestmark = [pytest.mark.docker]

#: The first job leaves everything it can behind.
PLANT = b"""
import json, os, subprocess, sys
import matplotlib
matplotlib.rcParams["lines.linewidth"] = 42.0
json.dumps = lambda *a, **k: "PLANTED"
os.environ["PLANTED_VAR"] = "1"
sys.modules["planted_module"] = type(sys)("planted_module")
open("planted.txt", "w").write("x")
open("/tmp/planted.txt", "w").write("x")
open(os.path.expanduser("~/planted.txt"), "w").write("x")
subprocess.Popen(["sleep", "1000"], start_new_session=True)
print("planted")
"""

#: The second job reports what it sees.
PROBE = b"""
import json, os, sys
import matplotlib
procs = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            procs.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
        except OSError:
            pass
print(json.dumps({
    "linewidth": matplotlib.rcParams["lines.linewidth"],
    "dumps": json.dumps([1]),
    "env": "PLANTED_VAR" in os.environ,
    "module": "planted_module" in sys.modules,
    "work": sorted(os.listdir(".")),
    "tmp": os.path.exists("/tmp/planted.txt"),
    "home": os.path.exists(os.path.expanduser("~/planted.txt")),
    "sleepers": [p for p in procs if p.startswith("sleep 1000")],
}))
"""


@pytest.fixture
def settings() -> Settings:
    return load_settings(backend="docker", limits={"timeout": 60})


@pytest.fixture
def pool(settings: Settings) -> Any:
    pool = SandboxPool(settings, size=1, idle_s=600)
    try:
        assert pool.wait_ready(), pool.last_error
        yield pool
    finally:
        pool.close()


def pooled_run(pool: SandboxPool, script: bytes, tmp_path: Path, name: str) -> tuple[Any, str]:
    taken: list[PooledSandbox] = []

    def factory(settings: Settings, run_id: str) -> PooledSandbox:
        taken.append(pool.acquire())
        return taken[0]

    run = run_in_sandbox(script, [], tmp_path / name, pool.settings, factory=factory)
    assert taken[0].info.extra.get("warm") == "yes"
    return run, str(taken[0].inner._container.id)


def test_a_job_sees_no_trace_of_the_previous_job(pool: SandboxPool, tmp_path: Path) -> None:
    first, first_id = pooled_run(pool, PLANT, tmp_path, "a")
    assert first.result.exit_code == 0, first.result.stderr.text
    assert first.result.stdout.text == "planted\n"
    assert pool.wait_ready(), pool.last_error
    second, second_id = pooled_run(pool, PROBE, tmp_path, "b")
    assert second.result.exit_code == 0, second.result.stderr.text
    seen = json.loads(second.result.stdout.text)
    assert seen == {
        "linewidth": 1.5,
        "dumps": "[1]",
        "env": False,
        "module": False,
        "work": ["inputs"],
        "tmp": False,
        "home": False,
        "sleepers": [],
    }
    assert first_id != second_id
    client = DockerSandbox(pool.settings, "probe").client
    for _ in range(100):  # removed in the background, off the job's critical path
        if not client.containers.list(all=True, filters={"id": first_id}):
            break
        time.sleep(0.1)
    assert not client.containers.list(all=True, filters={"id": first_id}), "not removed"


#: What a script can observe about how it was started.
LOOK = b"""
import json, os, sys
print(json.dumps({
    "argv": sys.argv, "name": __name__, "file": __file__, "cwd": os.getcwd(),
    "path0": sys.path[0], "env": dict(os.environ), "stdin": sys.stdin.read(),
    "uid": os.getuid(), "main_is_me": sys.modules["__main__"].__dict__ is globals(),
    "pid1_uid": os.stat("/proc/1").st_uid,
}))
"""


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_warm_script_sees_what_a_cold_one_sees(
    settings: Settings, tmp_path: Path, warm: bool
) -> None:
    def factory(s: Settings, run_id: str) -> DockerSandbox:
        return DockerSandbox(s, run_id, warm=warm)

    run = run_in_sandbox(LOOK, [], tmp_path / "o", settings, factory=factory)
    assert run.result.exit_code == 0, run.result.stderr.text
    seen = json.loads(run.result.stdout.text)
    assert seen["argv"] == ["/home/user/.promptkiln/main.py"]
    assert seen["name"] == "__main__" and seen["main_is_me"]
    assert seen["file"] == "/home/user/.promptkiln/main.py"
    assert seen["cwd"] == "/home/user/work" and seen["path0"] == "/home/user/.promptkiln"
    assert seen["stdin"] == "" and seen["uid"] == 1000
    assert seen["pid1_uid"] not in (0, 1000)
    assert "MPLBACKEND" in seen["env"] and not any("PROMPTKILN" in k for k in seen["env"])


@pytest.mark.parametrize(
    ("script", "code", "stderr_has"),
    [
        (b"import sys\nsys.exit(3)\n", 3, ""),
        (b"import sys\nsys.exit('bye')\n", 1, "bye"),
        (b"import os\nprint('x', flush=True)\nos._exit(7)\n", 7, ""),
        (b"def f():\n    raise ValueError('boom')\nf()\n", 1, "ValueError: boom"),
        (b"x = (\n", 1, "SyntaxError"),
    ],
    ids=["exit3", "exit-str", "os-exit", "exception", "syntax"],
)
def test_exit_codes_and_tracebacks_match_cold(
    settings: Settings, tmp_path: Path, script: bytes, code: int, stderr_has: str
) -> None:
    results = []
    for warm in (False, True):
        sandbox = DockerSandbox(settings, f"exit-{warm}", warm=warm)
        run = run_in_sandbox(
            script, [], tmp_path / str(warm), settings, factory=lambda s, r, sb=sandbox: sb
        )
        results.append((run.result.exit_code, run.result.stdout.text, run.result.stderr.text))
    assert results[0] == results[1]
    assert results[1][0] == code and stderr_has in results[1][2]
    assert "warm.py" not in results[1][2]


def test_pid1_memory_and_environment_are_out_of_reach(pool: SandboxPool, tmp_path: Path) -> None:
    script = b"""
import os
for name in ("/proc/1/mem", "/proc/1/environ"):
    try:
        with open(name, "rb") as f:
            f.read(16)
        print(name, "READ")
    except OSError as exc:
        print(name, type(exc).__name__)
"""
    run, _ = pooled_run(pool, script, tmp_path, "o")
    assert run.result.stdout.text == (
        "/proc/1/mem PermissionError\n/proc/1/environ PermissionError\n"
    ), run.result.stderr.text


def test_pool_of_size_zero_starts_cold(settings: Settings, tmp_path: Path) -> None:
    pool = SandboxPool(settings, size=0)
    try:
        sandbox = pool.acquire()
        run = run_in_sandbox(
            b"print(1)\n", [], tmp_path / "o", settings, factory=lambda s, r, sb=sandbox: sb
        )
        assert run.result.stdout.text == "1\n" and "warm" not in sandbox.info.extra
    finally:
        pool.close()


# -- the outputs come back on the warm interpreter's stream -------------------------------------


def warm_and_cold(
    settings: Settings, script: bytes, tmp_path: Path, inputs: list[Any] | None = None
) -> list[tuple[Any, dict[str, float]]]:
    """The same script through a cold and a warm sandbox: (run or raised error, steps)."""
    done = []
    for warm in (False, True):
        sandbox = DockerSandbox(settings, f"cmp-{warm}", warm=warm)
        try:
            got: Any = run_in_sandbox(
                script,
                inputs or [],
                tmp_path / str(warm),
                settings,
                factory=lambda s, r, sb=sandbox: sb,
            )
        except PromptkilnError as exc:
            got = exc
        done.append((got, dict(sandbox.steps)))
    return done


def delivered(run: Any) -> dict[str, bytes]:
    return {a.name: Path(a.path).read_bytes() for a in run.artifacts}


def test_outputs_and_inputs_travel_on_the_warm_stream(settings: Settings, tmp_path: Path) -> None:
    script = b"""
import os
os.makedirs("charts/q1")
open("charts/q1/a.csv", "w").write(open("inputs/in.csv").read().upper())
os.symlink("/etc/passwd", "link.csv")
print("done")
"""
    inputs = [InputFile("in.csv", b"x,y\n1,2\n")]
    (cold, cold_steps), (warm, warm_steps) = warm_and_cold(settings, script, tmp_path, inputs)
    assert warm.result.stdout.text == cold.result.stdout.text == "done\n"
    assert delivered(warm) == delivered(cold) == {"charts/q1/a.csv": b"X,Y\n1,2\n"}
    assert [r.name for r in warm.rejections] == [r.name for r in cold.rejections] == ["link.csv"]
    # No copy in, no pause, no archive call: the job line and the stream carried it all.
    assert "inputs_s" in cold_steps and "pause_s" in cold_steps
    assert "inputs_s" not in warm_steps and "pause_s" not in warm_steps


def test_orphans_are_killed_before_the_directory_is_read(
    settings: Settings, tmp_path: Path
) -> None:
    script = b"""
import subprocess
subprocess.Popen(["sh", "-c", "while :; do echo noise; echo n >> noise.txt; done"],
                 start_new_session=True)
import time; time.sleep(0.3)
open("out.txt", "w").write("ok")
"""
    (_, _), (warm, steps) = warm_and_cold(settings, script, tmp_path)
    assert warm.result.exit_code == 0, warm.result.stderr.text
    assert "pause_s" not in steps, "the stream should have carried the outputs"
    files = delivered(warm)
    assert files["out.txt"] == b"ok" and set(files["noise.txt"]) == {ord("n"), ord("\n")}


@pytest.mark.parametrize(
    "script",
    [
        b"import os\nopen('a.txt','w').write('a')\nos._exit(0)\n",  # no marker: never sent
        b"import os\nopen('a.txt','w').write('a')\nos.chmod('a.txt', 0)\n",  # unreadable
        b"import os\nopen('a.txt','w').write('a')\nos.close(1)\n",  # the stream's fd closed
    ],
    ids=["os-exit", "unreadable", "closed-stdout"],
)
def test_when_nothing_complete_comes_back_the_engine_archive_is_read(
    settings: Settings, tmp_path: Path, script: bytes
) -> None:
    (cold, _), (warm, steps) = warm_and_cold(settings, script, tmp_path)
    assert warm.result.exit_code == cold.result.exit_code
    assert delivered(warm) == delivered(cold)
    assert [r.name for r in warm.rejections] == [r.name for r in cold.rejections]
    if b"os.close(1)" not in script:
        assert "pause_s" in steps  # the stream had nothing complete: the frozen sandbox's archive


def test_a_forged_marker_is_only_output(settings: Settings, tmp_path: Path) -> None:
    script = b"""
import sys
sys.stdout.write("before\\0promptkiln-outputs:" + "0" * 32 + "\\0\\0\\0\\0\\x05junk after")
open("real.txt", "w").write("r")
"""
    (cold, _), (warm, _) = warm_and_cold(settings, script, tmp_path)
    assert warm.result.stdout.data == cold.result.stdout.data
    assert cold.result.stdout.data.endswith(b"junk after")
    assert delivered(warm) == delivered(cold) == {"real.txt": b"r"}


def test_large_inputs_are_copied_in_and_sparse_outputs_rejected_as_cold(tmp_path: Path) -> None:
    small = load_settings(backend="docker", limits={"timeout": 60, "disk": "32MiB"})
    big = InputFile("big.bin", b"b" * (INLINE_INPUT_BYTES + 1))
    script = b"""
import os
print(os.path.getsize("inputs/big.bin"))
for i in range(4):
    with open(f"sparse{i}.csv", "wb") as f:
        f.truncate(31 * 1024 * 1024)
"""
    (cold, _), (warm, steps) = warm_and_cold(small, script, tmp_path, [big])
    assert "inputs_s" in steps
    assert isinstance(cold, OutputRejected) and isinstance(warm, OutputRejected)
    assert str(warm) == str(cold)
    assert warm.run_result is not None
    assert warm.run_result.stdout.text == f"{INLINE_INPUT_BYTES + 1}\n"


def test_a_flood_of_entries_stops_where_the_cold_archive_reading_stops(tmp_path: Path) -> None:
    few = load_settings(backend="docker", limits={"timeout": 60, "output_files": 5})
    script = b"""
import os
os.makedirs("d")
for i in range(3000):
    open(f"d/{i:05d}.txt", "w").close()
"""
    (cold, _), (warm, steps) = warm_and_cold(few, script, tmp_path)
    assert "pause_s" not in steps
    assert [a.name for a in warm.artifacts] == [a.name for a in cold.artifacts]
    assert [(r.name, r.reason) for r in warm.rejections] == [
        (r.name, r.reason) for r in cold.rejections
    ]
    assert warm.rejections[-1].name == "(the remaining entries)"

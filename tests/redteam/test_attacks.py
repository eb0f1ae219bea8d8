"""Every red-team attack, through the real CLI and the real sandbox, with the host checks.

One test per attack script and runtime (runc, and gVisor's runsc where the engine has it): the
shared corpus in ``../shared/redteam/attacks/`` and this project's own additions in
``tests/redteam/attacks/``. Each run is checked against its ``EXPECT-JSON`` header, and against
the properties that hold for *every* run whatever the header lists: no canary anywhere, no
loopback connection, bounded wall time, nothing left behind, plain files only, nothing raw
printed, no traceback, and the sandbox configured as designed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from redteam_harness import (  # type: ignore[import-not-found]
    Attack,
    Checks,
    CliRun,
    Host,
    all_attacks,
    canary_files,
    run_cli,
    snapshot,
)

from promptkiln.sandbox.base import Limits

ATTACKS = all_attacks()
LIMITS = Limits()  # the defaults every run here uses

pytestmark = [pytest.mark.redteam, pytest.mark.docker]

BENIGN = b"open('hello.txt', 'w').write('hello\\n')\nprint('ok')\n"


@pytest.fixture(scope="session")
def baseline_rss(host: Host, tmp_path_factory: pytest.TempPathFactory) -> int:
    """The CLI's peak RSS on a benign run: the yardstick for the platform's own memory."""
    tmp = tmp_path_factory.mktemp("baseline")
    script = tmp / "benign.py"
    script.write_bytes(BENIGN)
    run = run_cli(
        script, tmp / "out", host, timeout_s=30, cwd=tmp / "cwd",
        env={"PROMPTKILN_HOME": str(tmp / "home")},
    )  # fmt: skip
    assert run.returncode == 0, run.describe()
    return max(run.samples.cli_rss)


# -- what particular attacks promise beyond their host_checks ----------------------------------


def _details(run: CliRun) -> dict[str, Any]:
    verdict = run.verdict
    assert verdict is not None, f"no REDTEAM_RESULT line\n{run.describe()}"
    details: dict[str, Any] = verdict.get("details") or {}
    return details


def _rejected(run: CliRun) -> dict[str, str]:
    m = run.manifest or {"rejected": []}
    return {r["name"].removeprefix("outputs/"): r["reason"] for r in m["rejected"]}


def _planted_are_rejected(run: CliRun, planted: dict[str, str], made: tuple[str, ...]) -> None:
    """Every entry the script managed to plant (its own report) is rejected with a reason."""
    rejected = _rejected(run)
    for name, status in planted.items():
        if status.startswith(made) and name not in rejected:
            pytest.fail(f"{name} ({status}) was not rejected; rejected: {sorted(rejected)}")


def check_fork_bomb(run: CliRun, checks: Checks, runtime: str) -> None:
    if run.termination == "memory":
        # gVisor: ~128 sandboxed Pythons fill the 1 GiB limit before RLIMIT_NPROC (= pids) is
        # reached, and the memory limit ends the whole sandbox. Killed by a limit: fine.
        children = [p["children"] for p in run.progress if "children" in p]
        assert max(children, default=0) <= LIMITS.pids, children
        checks.H_CLEAR_ERROR("memory")
        return
    assert _details(run)["children_started"] <= LIMITS.pids, run.verdict


def check_memory_bomb(run: CliRun, checks: Checks, runtime: str) -> None:
    if run.termination == "memory":
        steps = [p["allocated_mb"] for p in run.progress if "allocated_mb" in p]
        assert max(steps, default=0) <= LIMITS.memory_bytes // 2**20 + 64, steps
        assert run.returncode == 125, run.describe()
        checks.H_CLEAR_ERROR("memory")
    else:
        assert run.verdict and run.verdict["verdict"] == "PASS", run.describe()


def check_cpu_spin(run: CliRun, checks: Checks, runtime: str) -> None:
    assert run.termination == "timeout", run.describe()
    assert run.returncode == 124, run.describe()
    assert not any(r.get("verdict") == "FAIL" for r in run.results)
    checks.H_CLEAR_ERROR("longer than")


def check_cpu_quota(run: CliRun, checks: Checks, runtime: str) -> None:
    # From the host: the container's cgroup never used more than the quota.
    rate = run.samples.max_cpu_rate()
    assert rate <= LIMITS.cpus * 1.1, f"the sandbox used {rate:.2f} CPUs (quota {LIMITS.cpus})"
    if runtime == "runc":
        # gVisor's own clock counts runnable time as CPU time, so only runc's inside view counts.
        assert _details(run)["effective_cpus"] <= LIMITS.cpus * 1.1, run.verdict


def check_dns(run: CliRun, checks: Checks, runtime: str) -> None:
    assert _details(run)["interfaces"] == ["lo"], run.verdict


def check_fill_output(run: CliRun, checks: Checks, runtime: str) -> None:
    assert "fill.bin" not in checks.delivered_names()
    reason = _rejected(run).get("fill.bin", "")
    assert "too large" in reason, _rejected(run)


def check_symlinks(run: CliRun, checks: Checks, runtime: str) -> None:
    _planted_are_rejected(run, dict.fromkeys(_details(run)["links"], "LINK"), ("LINK",))


def check_hardlinks(run: CliRun, checks: Checks, runtime: str) -> None:
    _planted_are_rejected(
        run, {k: v for k, v in _details(run)["links"].items() if k != "b.txt"}, ("LINKED",)
    )
    if _details(run)["links"].get("b.txt", "").startswith("LINKED"):
        rejected = _rejected(run)
        assert "a.txt" in rejected or "b.txt" in rejected, rejected
    for p in checks.delivered_files():
        assert b"REDTEAM-SANDBOX-SECRET" not in p.read_bytes(), p


def check_special_files(run: CliRun, checks: Checks, runtime: str) -> None:
    # A unix socket cannot be put in a tar archive: the engine leaves it out of the copy, so it
    # never reaches the collector (and is not listed). It must still not be delivered.
    nodes = _details(run)["nodes"]
    if runtime == "runc":
        # gVisor keeps FIFOs in its own kernel: they never reach the volume, so never the copy.
        _planted_are_rejected(run, nodes, ("FIFO", "CHARDEV"))
    assert not {n for n, kind in nodes.items() if kind == "SOCKET"} & checks.delivered_names()


def check_deep_nesting(run: CliRun, checks: Checks, runtime: str) -> None:
    reasons = " ".join(_rejected(run).values())
    assert any(w in reasons for w in ("deep", "long", "nested")), _rejected(run)


def check_many_files(run: CliRun, checks: Checks, runtime: str) -> None:
    assert len(checks.delivered_files()) <= LIMITS.output_files
    assert "too many" in " ".join(_rejected(run).values()), _rejected(run)


def check_dotfiles(run: CliRun, checks: Checks, runtime: str) -> None:
    for name in checks.delivered_names():
        parts = name.split("/")
        assert not any(p.startswith(".") for p in parts), name
        assert parts[-1] not in ("sitecustomize.py", "autorun.inf") and not name.endswith(
            ".desktop"
        ), name


EXTRA_CHECKS: dict[str, Callable[[CliRun, Checks, str], None]] = {
    "res_01_fork_bomb": check_fork_bomb,
    "res_03_memory_bomb": check_memory_bomb,
    "res_05_cpu_spin_timeout": check_cpu_spin,
    "res_06_cpu_quota_probe": check_cpu_quota,
    "net_01_dns_lookup": check_dns,
    "disk_01_fill_output_dir": check_fill_output,
    "out_01_symlink_absolute": check_symlinks,
    "out_03_hardlinks": check_hardlinks,
    "out_04_fifo_socket_device": check_special_files,
    "out_08_deep_nesting": check_deep_nesting,
    "out_09_many_small_files": check_many_files,
    "out_13_dotfile_autorun": check_dotfiles,
}
#: The README says some verdicts need the harness's judgement. These are judged acceptable,
#: each for a stated reason; anything else in the same script still counts.
_RUNC_MASK = re.compile(r"^/proc/[\w/]+ <- tmpfs:/null \(tmpfs\)$")


def judged_verdict(attack: Attack, run: CliRun, runtime: str) -> str:
    assert run.verdict is not None
    verdict: str = run.verdict["verdict"]
    details = run.verdict.get("details") or {}
    if (
        attack.id == "priv_01_capabilities_seccomp"
        and runtime == "runsc"
        and verdict == "WARN"
        and not details.get("cap_eff")
        and details.get("euid") != 0
    ):
        # gVisor's /proc/self/status has no NoNewPrivs/Seccomp lines; the boundary is gVisor's
        # kernel itself (the header: "or a gVisor/VM boundary -> PASS"). No caps, not root.
        return "PASS"
    if (
        attack.id == "info_01_kernel_probe"
        and runtime == "runc"
        and verdict == "WARN"
        and run.verdict.get("summary") == "host overlay paths visible"
    ):
        # runc shares the host kernel: /proc/self/mountinfo shows the overlay2 layer paths.
        # Names of layer directories, no content; gVisor hides them. Accepted for runc.
        return "INFO"
    if attack.id == "secrets_04_host_mounts_and_files" and verdict == "FAIL":
        # runc masks /proc/keys, /proc/timer_list... by binding the container's own /dev/null
        # over them; the mount shows as "rw", which the script counts as a writable host bind.
        rw = details.get("rw_bind_mounts_outside_output", [])
        readable = [k for k, v in details.get("credential_paths", {}).items() if v == "readable"]
        if (
            not details.get("canary_files_found")
            and not readable
            and all(_RUNC_MASK.match(m) for m in rw)
        ):
            return "WARN"
    return verdict


#: Checks that need something this project does not have: reported, not silently passed.
NOT_APPLICABLE = {
    "H_SAFE_SERVING": "promptkiln has no UI or download route; files are only written to --out",
}


def run_attack(attack: Attack, runtime: str, host: Host, tmp: Path, baseline_rss: int) -> CliRun:
    deliver = tmp / "deliver"
    deliver.mkdir(parents=True)
    (deliver / ".redteam_host_canary").write_text(host.tmp_canary_text)
    out, cwd = deliver / "out", tmp / "cwd"
    connections = len(host.listener.connections)
    fs_before = canary_files([cwd, deliver, Path("/tmp"), Path.home()])
    tmp_canary = host.reset_tmp_canary()
    run = run_cli(attack.path, out, host, timeout_s=attack.timeout_s, runtime=runtime, cwd=cwd)
    frozen = snapshot(out)
    checks = Checks(run, host, attack)

    # Properties of every run, whatever the header lists.
    checks.H_CLEAR_ERROR()
    checks.H_SANITIZED_RENDER()
    checks.H_CANARY_ENV()
    checks.H_CANARY_FILE(tmp_canary)
    checks.H_LOOPBACK_LISTENER(connections)
    checks.H_WALL()
    checks.H_COPY_NO_HANG()
    checks.H_OUTPUT_REJECT()
    checks.H_SAFE_MODES()
    checks.H_HOST_FS_UNCHANGED(fs_before)
    checks.H_HOST_RESOURCES(baseline_rss)
    checks.sandbox_config()
    checks.H_NO_LEFTOVER()

    listed = set(attack.host_checks)
    if "H_OUTPUT_FROZEN" in listed:
        checks.H_OUTPUT_FROZEN(frozen)
    if "H_LOG_CAP" in listed:
        checks.H_LOG_CAP()
    if "H_CLEAR_ERROR" in listed:
        assert run.returncode != 0, run.describe()
    unknown = listed - {
        "H_CANARY_ENV", "H_CANARY_FILE", "H_LOOPBACK_LISTENER", "H_WALL", "H_NO_LEFTOVER",
        "H_OUTPUT_FROZEN", "H_OUTPUT_REJECT", "H_COPY_NO_HANG", "H_HOST_FS_UNCHANGED",
        "H_HOST_RESOURCES", "H_LOG_CAP", "H_CLEAR_ERROR", "H_SAFE_MODES", "H_SANITIZED_RENDER",
        "H_FRESH_SANDBOX", *NOT_APPLICABLE,
    }  # fmt: skip
    assert not unknown, f"the harness does not know the checks {unknown}"

    # The script's own verdict and how the run ended.
    expect = attack.expect
    killed = run.termination in ("timeout", "memory")
    optional = expect.get("verdict_optional") or (killed and expect.get("may_be_killed"))
    if attack.self_verdict and not (optional and run.verdict is None):
        assert run.verdict is not None, f"no REDTEAM_RESULT line\n{run.describe()}"
        assert judged_verdict(attack, run, runtime) in attack.self_verdict, run.describe()
    elif run.termination == "exited":
        assert not run.results, f"finished on its own with a verdict\n{run.describe()}"
    if expect.get("must_be_killed"):
        assert run.termination in ("timeout", "memory"), run.describe()
    if not expect.get("may_be_killed", False):
        assert not killed, run.describe()
    extra = EXTRA_CHECKS.get(attack.id)
    if extra is not None:
        extra(run, checks, runtime)
    _report(attack, runtime, run)
    return run


def _report(attack: Attack, runtime: str, run: CliRun) -> None:
    """With ``REDTEAM_REPORT=<file>``, one JSON line per passed run: the attack -> outcome table."""
    path = os.environ.get("REDTEAM_REPORT")
    if not path:
        return
    m = run.manifest or {}
    errors = run.error_lines
    line = {
        "attack": attack.id,
        "runtime": runtime,
        "exit": run.returncode,
        "termination": run.termination,
        "verdict": run.verdict["verdict"] if run.verdict else None,
        "judged": judged_verdict(attack, run, runtime) if run.verdict else None,
        "delivered": len(m.get("files", [])),
        "rejected": len(m.get("rejected", [])),
        "wall_s": round(run.wall_s, 1),
        "error": errors[0][:160] if errors else None,
    }
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack(
    attack: Attack,
    runtime: str,
    host: Host,
    tmp_path: Path,
    baseline_rss: int,
) -> None:
    for n in range(attack.repeat):
        run_attack(attack, runtime, host, tmp_path / f"round-{n}", baseline_rss)
    for check in set(attack.host_checks) & set(NOT_APPLICABLE):
        print(f"{attack.id}: {check} not applicable: {NOT_APPLICABLE[check]}")


def test_corpus_is_complete() -> None:
    """Every file of the shared folder is picked up, and the headers parse."""
    from redteam_harness import ATTACKS as SHARED_ATTACKS
    from redteam_harness import SHARED_SKIP_REASON

    if SHARED_ATTACKS is None:
        pytest.skip(SHARED_SKIP_REASON)
    names = {p.stem for p in SHARED_ATTACKS.glob("*.py")}
    assert names <= {a.id for a in ATTACKS}
    assert len(names) >= 20, names
    assert os.path.isdir(SHARED_ATTACKS)


def test_own_attacks_always_run() -> None:
    """The project's own attacks are collected whether or not the shared corpus is there."""
    from redteam_harness import EXTRA_ATTACKS

    own = {p.stem for p in EXTRA_ATTACKS.glob("*.py")}
    assert own and own <= {a.id for a in ATTACKS}

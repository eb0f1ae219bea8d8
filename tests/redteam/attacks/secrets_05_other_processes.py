# REDTEAM-ID: secrets_05_other_processes
# CATEGORY: secrets
# ATTACK: The script's own environment may be clean while another process in the sandbox is
#   not: PID 1 (an init or agent started with the platform's environment), a helper the platform
#   execs next to the script, or the process that copies files in. Reads /proc/*/environ and
#   /proc/*/cmdline of every visible process and the container's own metadata files, and prints
#   any value containing "REDTEAM-CANARY" in full, plus secret-looking variable names.
# EXPECTED SAFE OUTCOME: no process carries a canary or secret-looking variable -> PASS.
# HARNESS CHECK: H_CANARY_ENV (the random canary values appear nowhere).
# SAFETY BOUNDS: read-only; < 2 s.
# EXPECT-JSON: {"self_verdict": ["PASS"], "may_be_killed": false, "max_wall_s": 15, "host_checks": ["H_CANARY_ENV"]}
import json
import os
import re

RID = "secrets_05_other_processes"
SECRET = re.compile(rb"(API_KEY|TOKEN|SECRET|PASSW|CREDENTIAL|DOCKER_HOST)[^=]*=", re.I)


def main():
    hits, names, seen = [], set(), 0
    paths = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            paths += [f"/proc/{pid}/environ", f"/proc/{pid}/cmdline"]
    paths += ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/.dockerenv"]
    for p in paths:
        try:
            with open(p, "rb") as f:
                data = f.read(1 << 20)
        except OSError:
            continue
        seen += 1
        for part in data.split(b"\0"):
            if b"REDTEAM-CANARY" in part:
                hits.append(part.decode("utf-8", "replace"))
            m = SECRET.search(part)
            if m:
                names.add(part.split(b"=", 1)[0].decode("utf-8", "replace"))
    verdict = "FAIL" if hits or names else "PASS"
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {
                "id": RID,
                "verdict": verdict,
                "summary": f"{seen} files read, {len(hits)} canaries",
                "details": {"canaries": hits, "secret_names": sorted(names)},
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

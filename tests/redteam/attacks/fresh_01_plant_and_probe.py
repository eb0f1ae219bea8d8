# REDTEAM-ID: fresh_01_plant_and_probe
# CATEGORY: lifecycle / isolation between runs
# ATTACK: Persist from one job into the next. A platform that reuses a sandbox (a warm pool, a
#   shared volume, a long-lived container, a shared /tmp or /dev/shm) lets one user's script
#   poison or read the next one's. The script first looks for what an earlier run of itself left
#   (marker files in every writable place, a POSIX message queue, an abstract unix socket, a
#   background process), then plants all of them, and exits leaving the process behind.
# EXPECTED SAFE OUTCOME: every run starts from nothing: PASS on the first run AND on the second.
# HARNESS CHECK: run twice; both PASS (H_FRESH_SANDBOX).
# SAFETY BOUNDS: small marker files; one sleeping process that exits after 60 s.
# EXPECT-JSON: {"self_verdict": ["PASS"], "may_be_killed": false, "max_wall_s": 15, "repeat": 2, "host_checks": ["H_FRESH_SANDBOX", "H_NO_LEFTOVER"]}
import glob
import json
import os
import socket
import time

RID = "fresh_01_plant_and_probe"
MARK = "REDTEAM_FRESH_MARKER"
PLACES = ["/tmp", "/dev/shm", os.path.expanduser("~"), os.getcwd(), "/var/tmp", "/run/lock"]


def main():
    found = []
    for place in PLACES:
        found += glob.glob(os.path.join(place, MARK + "*"))
    found += [p for p in glob.glob("/dev/mqueue/*") if MARK in p]
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect("\0" + MARK)
        found.append("abstract socket @" + MARK)
        s.close()
    except OSError:
        pass
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) not in (1, me):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if MARK.encode() in f.read():
                        found.append(f"process {pid}")
            except OSError:
                pass
    planted = []
    for place in PLACES:
        try:
            with open(os.path.join(place, MARK + ".txt"), "w") as f:
                f.write(f"planted at {time.time():f}\n")
            planted.append(place)
        except OSError:
            pass
    if os.fork() == 0:
        os.setsid()
        for fd in (0, 1, 2):
            os.close(fd)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind("\0" + MARK)
            s.listen(1)
        except OSError:
            pass
        os.execvp("sleep", ["sleep", "60", MARK])
    verdict = "FAIL" if found else "PASS"
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {
                "id": RID,
                "verdict": verdict,
                "summary": f"traces of an earlier run: {len(found)}",
                "details": {"found": found, "planted": planted},
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

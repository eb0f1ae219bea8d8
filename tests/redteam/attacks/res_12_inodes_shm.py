# REDTEAM-ID: res_12_inodes_shm
# CATEGORY: resource-exhaustion
# ATTACK: Exhaust what a byte quota does not count: inodes (empty files cost no bytes on tmpfs,
#   only kernel memory), /dev/shm (a separate tmpfs), and many directories. Creates empty files in
#   the working directory until ENOSPC, 400,000 files or 20 s, fills /dev/shm until ENOSPC or
#   1 GiB, and leaves everything for copy-out.
# EXPECTED SAFE OUTCOME: inode creation stops at a per-sandbox limit; /dev/shm is small and charged
#   to the memory limit; copy-out examines a bounded number of entries and says so; host memory
#   does not drop by more than the sandbox's memory limit.
# HARNESS CHECK: H_HOST_RESOURCES, H_COPY_NO_HANG, H_OUTPUT_REJECT.
# SAFETY BOUNDS: <= 400,000 empty files, <= 1 GiB in /dev/shm, <= 20 s each.
# EXPECT-JSON: {"self_verdict": ["INFO"], "may_be_killed": true, "max_wall_s": 60, "host_checks": ["H_HOST_RESOURCES", "H_COPY_NO_HANG", "H_OUTPUT_REJECT"]}
import json
import os
import time

RID = "res_12_inodes_shm"


def main():
    os.makedirs("many", exist_ok=True)
    n, err, t0 = 0, None, time.time()
    while n < 400_000 and time.time() - t0 < 20:
        if n % 1000 == 0:
            d = f"many/d{n // 1000:04d}"
            try:
                os.mkdir(d)
            except OSError as e:
                err = e.strerror
                break
        try:
            os.close(os.open(f"{d}/f{n}.txt", os.O_CREAT | os.O_WRONLY, 0o644))
        except OSError as e:
            err = e.strerror
            break
        n += 1
    shm, shm_err, t0 = 0, None, time.time()
    try:
        with open("/dev/shm/REDTEAM_fill", "wb") as f:
            while shm < (1 << 30) and time.time() - t0 < 20:
                f.write(b"\xa5" * (1 << 20))
                shm += 1 << 20
    except OSError as e:
        shm_err = e.strerror
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {
                "id": RID,
                "verdict": "INFO",
                "summary": f"{n} empty files, {shm >> 20} MiB of shm",
                "details": {
                    "files": n,
                    "files_error": err,
                    "shm_mb": shm >> 20,
                    "shm_error": shm_err,
                },
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

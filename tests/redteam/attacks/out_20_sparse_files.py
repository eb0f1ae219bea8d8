# REDTEAM-ID: out_20_sparse_files
# CATEGORY: output-tricks / resource-exhaustion
# ATTACK: Sparse files. A tmpfs or disk quota counts allocated blocks, not file sizes, so
#   truncate() makes a 1 TiB file in no space at all. Copy-out that streams files (tar through the
#   engine's archive API, docker cp, an SDK download) then reads terabytes of zeros: the copy
#   hangs for hours, and a copier that writes first and checks later fills the user's disk.
#   Makes one 1 TiB file, then as many files just under the scratch size as the limits allow
#   (up to 64), and a benign report.txt.
# EXPECTED SAFE OUTCOME: the big sizes are refused inside the sandbox (RLIMIT_FSIZE: EFBIG), and
#   copy-out stops reading after a bounded number of bytes with a clear error; nothing is written
#   to the destination; the run ends in seconds.
# HARNESS CHECK: H_COPY_NO_HANG, H_CLEAR_ERROR, H_HOST_RESOURCES; nothing delivered.
# SAFETY BOUNDS: no data is written (holes only); at most 65 files.
# EXPECT-JSON: {"self_verdict": ["INFO"], "verdict_optional": true, "may_be_killed": false, "max_wall_s": 30, "host_checks": ["H_COPY_NO_HANG", "H_CLEAR_ERROR", "H_HOST_RESOURCES"], "deliver_only": []}
import json
import os

RID = "out_20_sparse_files"


def sparse(name, size):
    try:
        with open(name, "wb") as f:
            f.truncate(size)
        return "ok"
    except OSError as e:
        return f"failed: {e.strerror}"


def main():
    res = {"huge.bin": sparse("huge.bin", 1 << 40)}
    st = os.statvfs(".")
    size = max(st.f_blocks * st.f_frsize - (1 << 20), 1 << 20)
    made = 0
    for i in range(64):
        if sparse(f"hole{i:02d}.csv", size) == "ok":
            made += 1
    with open("report.txt", "w") as f:
        f.write("REDTEAM-BENIGN report\n")
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {
                "id": RID,
                "verdict": "INFO",
                "summary": "sparse files planted",
                "details": {"huge": res["huge.bin"], "holes": made, "hole_size": size},
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

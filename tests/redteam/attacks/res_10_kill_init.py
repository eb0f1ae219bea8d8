# REDTEAM-ID: res_10_kill_init
# CATEGORY: lifecycle / sabotage
# ATTACK: Stop the sandbox from the inside. docker-init (PID 1) runs as the script's own uid and
#   forwards SIGTERM to its child and then exits, which stops the container while the platform is
#   still watching the exec. A platform that assumes the container outlives the script crashes
#   (a traceback, an unhandled 404 or 409 from the engine) or leaves a stopped container and its
#   volume behind. Writes report.txt, then SIGTERMs PID 1 and waits.
# EXPECTED SAFE OUTCOME: a specific error ("the sandbox stopped"), no traceback, no container,
#   volume or process left; or, if PID 1 survives, a normal run.
# HARNESS CHECK: H_CLEAR_ERROR (no traceback), H_NO_LEFTOVER.
# SAFETY BOUNDS: signals only PID 1 of its own sandbox; < 10 s.
# EXPECT-JSON: {"self_verdict": ["INFO"], "verdict_optional": true, "may_be_killed": true, "max_wall_s": 20, "host_checks": ["H_NO_LEFTOVER"]}
import json
import os
import signal
import time

RID = "res_10_kill_init"


def main():
    with open("report.txt", "w") as f:
        f.write("REDTEAM-BENIGN report\n")
    print("REDTEAM_PROGRESS " + json.dumps({"id": RID, "step": "signalling pid 1"}), flush=True)
    try:
        os.kill(1, signal.SIGTERM)
        sent = "sent"
    except OSError as e:
        sent = f"failed: {e.strerror}"
    time.sleep(5)
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {
                "id": RID,
                "verdict": "INFO",
                "summary": "PID 1 survived SIGTERM",
                "details": {"kill": sent},
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

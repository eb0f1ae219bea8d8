# REDTEAM-ID: res_11_orphan_holds_stdout
# CATEGORY: lifecycle / persistence
# ATTACK: An orphan that keeps the script's stdout and stderr open and keeps writing to them
#   after the main process exited. A platform that waits for EOF on the output pipes (rather than
#   for the process) hangs until its timeout, or collects while the orphan still runs; one that
#   keeps reading shows output produced after the job "ended".
# EXPECTED SAFE OUTCOME: the run ends right after the main process exits; report.txt is delivered;
#   the orphan is stopped before collection and destroyed with the sandbox.
# HARNESS CHECK: H_WALL (well under the timeout), H_NO_LEFTOVER, H_OUTPUT_FROZEN.
# SAFETY BOUNDS: one child, exits by itself after 60 s.
# EXPECT-JSON: {"self_verdict": ["INFO"], "may_be_killed": false, "max_wall_s": 15, "host_checks": ["H_WALL", "H_NO_LEFTOVER", "H_OUTPUT_FROZEN"]}
import json
import os
import time

RID = "res_11_orphan_holds_stdout"


def main():
    with open("report.txt", "w") as f:
        f.write("REDTEAM-BENIGN report\n")
    result = {"id": RID, "verdict": "INFO", "summary": "orphan left holding stdout", "details": {}}
    # One write() per line: the orphan shares the pipe, and print() may split a line in two.
    os.write(1, ("REDTEAM_RESULT " + json.dumps(result) + "\n").encode())
    if os.fork() == 0:
        os.setsid()
        t0 = time.time()
        while time.time() - t0 < 60:
            try:
                os.write(1, b"REDTEAM orphan still talking t=%.1f\n" % (time.time() - t0))
                with open("late.txt", "a") as f:
                    f.write("late\n")
            except OSError:
                pass
            time.sleep(0.2)
        os._exit(0)


if __name__ == "__main__":
    main()

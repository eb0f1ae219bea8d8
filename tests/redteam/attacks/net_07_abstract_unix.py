# REDTEAM-ID: net_07_abstract_unix
# CATEGORY: escape / network-egress
# ATTACK: Abstract unix sockets belong to the network namespace, not the filesystem: no mount
#   hides them. A sandbox that shares the host's network namespace can connect to the host's
#   abstract sockets (containerd-shim's API, CVE-2020-15257; X11 @/tmp/.X11-unix/X0; D-Bus;
#   systemd). Lists every socket in /proc/net/unix and tries to connect to each abstract one
#   that is not its own (nothing is sent).
# EXPECTED SAFE OUTCOME: a private network namespace: no foreign abstract socket is listed or
#   connectable -> PASS.
# HARNESS CHECK: verdict == PASS.
# SAFETY BOUNDS: connect() only, 1 s timeouts, at most 200 sockets.
# EXPECT-JSON: {"self_verdict": ["PASS"], "may_be_killed": false, "max_wall_s": 15, "host_checks": []}
import json
import socket

RID = "net_07_abstract_unix"


def main():
    names = []
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[7].startswith("@"):
                    names.append(parts[7])
    except OSError as e:
        names_error = e.strerror
    else:
        names_error = None
    reachable = []
    for name in names[:200]:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(1)
        try:
            s.connect("\0" + name[1:])
            reachable.append(name)
        except OSError:
            pass
        finally:
            s.close()
    verdict = "FAIL" if reachable else "PASS"
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {
                "id": RID,
                "verdict": verdict,
                "summary": f"{len(names)} abstract sockets listed, {len(reachable)} reachable",
                "details": {"listed": names[:50], "reachable": reachable, "error": names_error},
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

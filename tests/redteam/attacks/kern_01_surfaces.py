# REDTEAM-ID: kern_01_surfaces
# CATEGORY: privilege-escalation
# ATTACK: Look for the kernel surfaces a container escape starts from: a writable cgroup tree
#   (/sys/fs/cgroup: release_agent, cgroup.procs; read-only today is one runtime bug from
#   writable), a writable /proc/sys (kernel.core_pattern, modprobe), and the device nodes that
#   reach kernel code no sandboxed script needs: /dev/fuse (a user-space filesystem served to the
#   kernel) and /dev/net/tun (raw packets into a network stack). Reads mountinfo, tries to create
#   a file in each tree and to open each device read-write.
# EXPECTED SAFE OUTCOME: PASS when /sys/fs/cgroup and /proc/sys are mounted read-only (the top
#   mount at or above each path has "ro") and neither device can be opened as a device.
#   FAIL names every surface left open.
# HARNESS CHECK: the self verdict (PASS on runc and on gVisor's runsc).
# SAFETY BOUNDS: read-only probes; a created file would be removed at once; < 2 s.
# EXPECT-JSON: {"self_verdict": ["PASS"], "may_be_killed": false, "max_wall_s": 10, "host_checks": []}
import contextlib
import json
import os
import stat

RID = "kern_01_surfaces"


def emit(verdict, summary, **details):
    print(
        "REDTEAM_RESULT "
        + json.dumps(
            {"id": RID, "verdict": verdict, "summary": summary, "details": details},
            default=str,
            ensure_ascii=True,
        ),
        flush=True,
    )


def mounts():
    """(mount point, per-mount options) of /proc/self/mountinfo, in mount order."""
    rows = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            rows.append((fields[4].replace("\\040", " "), fields[5].split(",")))
    return rows


def covering_mount(path, rows):
    """The mount that decides ``path``: the longest mount point above it, the last one mounted."""
    best = None
    for point, opts in rows:
        above = path == point or path.startswith(point.rstrip("/") + "/") or point == "/"
        if above and (best is None or len(point) >= len(best[0])):
            best = (point, opts)
    return best


def try_create(directory):
    probe = os.path.join(directory, ".redteam_probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        return f"refused: {e.__class__.__name__}"
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return "CREATED"


def try_device(path):
    try:
        st = os.stat(path)
    except OSError as e:
        return f"absent: {e.__class__.__name__}"
    if not stat.S_ISCHR(st.st_mode):
        return f"not a device ({stat.filemode(st.st_mode)})"
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError as e:
        return f"device, open refused: {e.__class__.__name__}"
    os.close(fd)
    return "OPENED"


def main():
    rows = mounts()
    open_surfaces, details = [], {}
    for tree in ("/sys/fs/cgroup", "/proc/sys"):
        point, opts = covering_mount(tree, rows) or ("?", [])
        created = try_create(tree)
        details[tree] = {"mount": point, "options": opts, "create": created}
        if "ro" not in opts:
            open_surfaces.append(f"{tree} mounted read-write (at {point})")
        if created == "CREATED":
            open_surfaces.append(f"{tree} writable")
    for dev in ("/dev/fuse", "/dev/net/tun"):
        details[dev] = try_device(dev)
        if details[dev] == "OPENED":
            open_surfaces.append(f"{dev} opened")
    if open_surfaces:
        emit("FAIL", "; ".join(open_surfaces), **details)
    else:
        emit("PASS", "cgroup and sysctl trees read-only; no FUSE or TUN device", **details)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        emit("INCONCLUSIVE", f"script error: {e!r}")

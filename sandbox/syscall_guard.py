"""A syscall filter the script's process installs on itself before the script starts.

Why: gVisor (``runsc``, as packaged in Debian 12) does not apply the container's seccomp profile
or ``no_new_privs`` to processes started with ``docker exec`` (only to the container's own init),
and the Docker backend runs every script that way. Without this, a script under gVisor could
create user, mount and network namespaces (inside gVisor's kernel) and run setuid binaries.
runc applies Docker's profile to exec'd processes itself; there this filter is not used.

:data:`PRELUDE` is Python source run as ``python3 -I -S -c PRELUDE <argv...>``: it sets
``no_new_privs``, installs a classic-BPF seccomp filter that refuses (EPERM) namespace creation
(``unshare``, ``setns``, ``clone`` with any ``CLONE_NEW*`` flag; ``clone3`` gets ENOSYS so libc
falls back to ``clone``), every mount-family call, keyrings, ``bpf``, ``perf_event_open`` and
``userfaultfd``, and then ``execv``\\ s the real command, which inherits both. It fails closed:
if the filter cannot be installed the command does not run. x86-64 and aarch64; on x86-64 the
x32 ABI is refused outright.
"""

from __future__ import annotations

#: Exit status when the filter could not be installed (the command never ran).
GUARD_FAILED = 125

PRELUDE = r"""
import ctypes, os, sys

EPERM, ENOSYS = 1, 38
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
NS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
ARCHES = {
    # audit arch: (clone, clone3, refused syscalls, x32 bit)
    0xC000003E: (56, 435, (272, 308, 165, 166, 155, 250, 248, 249, 321, 298, 323,
                           428, 429, 430, 431, 432, 433, 442), True),
    0xC00000B7: (220, 435, (97, 268, 40, 39, 41, 219, 217, 218, 280, 241, 282,
                            428, 429, 430, 431, 432, 433, 442), False),
}

def ld(off): return (0x20, 0, 0, off)
def jeq(k, jt, jf): return (0x15, jt, jf, k)
def ret(k): return (0x06, 0, 0, k)

prog = [ld(4)]
for arch, (clone, clone3, refused, x32) in ARCHES.items():
    block = [ld(0)]
    if x32:
        block += [(0x35, 0, 1, 0x40000000), ret(ERRNO | EPERM)]
    for nr in refused:
        block += [jeq(nr, 0, 1), ret(ERRNO | EPERM)]
    block += [jeq(clone3, 0, 1), ret(ERRNO | ENOSYS)]
    block += [jeq(clone, 0, 3), ld(16), (0x45, 0, 1, NS), ret(ERRNO | EPERM), ret(ALLOW)]
    prog += [jeq(arch, 0, len(block))] + block + [ld(4)]
prog[-1] = ret(ALLOW)

class Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]

class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]

insns = (Insn * len(prog))(*[Insn(*i) for i in prog])
fprog = Prog(len(prog), insns)
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong]
if (libc.prctl(38, 1, 0, 0, 0) != 0
        or libc.prctl(22, 2, ctypes.addressof(fprog), 0, 0) != 0):
    err = ctypes.get_errno()
    sys.stderr.write("promptkiln: could not install the sandbox's syscall filter (%s); "
                     "the script was not run\n" % os.strerror(err))
    sys.exit(125)
argv = sys.argv[1:]
os.execvp(argv[0], argv)
"""


def guarded(argv: list[str]) -> list[str]:
    """``argv`` run behind the filter (see the module docstring)."""
    return ["python3", "-I", "-S", "-c", PRELUDE, *argv]


__all__ = ["GUARD_FAILED", "PRELUDE", "guarded"]

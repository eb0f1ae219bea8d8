"""Shell scripts the ``e2b`` backend runs as root inside the sandbox, through envd.

Both run with ``cwd="/"`` and an empty environment besides their own variables, as root, whose
dotfiles the sandbox user cannot write: nothing the script left behind takes part.
"""

from __future__ import annotations

from promptkiln.sandbox.base import EntryKind

# Run as root, in / and by envd, right after the sandbox is created: the processes that exist
# before any script ran ("pid:starttime", kept host-side), so that they can be told apart later.
BASELINE_SCRIPT = r"""
for d in /proc/[0-9]*; do
  s=; read -r -d '' s < "$d/stat" 2>/dev/null; [ -n "$s" ] || continue
  r=${s##*) }; set -- $r
  [ -n "${20}" ] && printf '%s:%s ' "${d#/proc/}" "${20}"
done
"""

# Run as root, in / and by envd, before collection: kill every process the run may have left,
# check that none is left, then name the working directory's special files (FIFOs, sockets,
# devices), which envd's ListDir reports without a type and the SDK's files.list drops.
#
# /proc files are read with `read -d ''`, which bash does byte by byte: its buffered line reads
# keep what they read ahead in one buffer for every file and give it back by seeking, which fails
# once the process is gone, so the next file read began with the dead process's leftover lines
# (a baseline process then looked unknown and was killed: the watchdog of promptkiln's own E2B
# server, which ended the sandbox). A process whose start time cannot be read is not killed; it
# counts as left, and the next round looks again.
#
# Killed: every process of "user" (first with `kill -9 -1` from the user's own uid, one atomic
# sweep in the kernel that a fork bomb cannot outrun), and every other process that is not in
# the baseline (same pid *and* start time): on E2B the user can become root (the template build
# installs sudo and clears root's password), so daemons of any uid count. Kept: PID 1, kernel
# threads, the baseline, and this script's own ancestors (envd). Zombies are already dead.
STOP_SCRIPT = r"""
uid=$(id -u user) || exit 2
gid=$(id -g user) || exit 2
keep=" 1 "
p=$$
while [ "$p" -gt 1 ] 2>/dev/null; do
  keep="$keep$p "
  s=; read -r -d '' s < "/proc/$p/stat"; [ -n "$s" ] || break
  r=${s##*) }; set -- $r; p=$2
done
stopped=""
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  if command -v setpriv >/dev/null 2>&1; then
    setpriv --reuid="$uid" --regid="$gid" --clear-groups -- \
      /bin/bash --norc --noprofile -c 'kill -9 -1' 2>/dev/null
  fi
  left=0
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    case "$keep" in *" $pid "*) continue ;; esac
    s=; read -r -d '' s < "$d/stat" 2>/dev/null; [ -n "$s" ] || continue
    r=${s##*) }; set -- $r
    state=$1; flags=$7; start=${20}
    case "$state" in Z|X) continue ;; esac
    (( flags & 0x200000 )) && continue
    if [ -z "$start" ]; then left=1; continue; fi
    mine=""
    st=; read -r -d '' st < "$d/status" 2>/dev/null
    case "$st" in
      *$'\n'Uid:*)
        u=${st#*$'\n'Uid:}; set -- ${u%%$'\n'*}
        { [ "$1" = "$uid" ] || [ "$2" = "$uid" ]; } && mine=1 ;;
    esac
    if [ -z "$mine" ]; then
      [ -z "$BASELINE" ] && continue
      case " $BASELINE " in *" $pid:$start "*) continue ;; esac
    fi
    left=1
    kill -9 "$pid" 2>/dev/null
  done
  if [ "$left" = 0 ]; then stopped=1; break; fi
  sleep 0.05
done
[ -n "$stopped" ] || exit 1
find "$WORKDIR" -mindepth 1 -path "$WORKDIR/inputs" -prune -o \
  ! -type f ! -type d ! -type l -printf '%y\0%P\0' 2>/dev/null | head -z -n "$MAX_SPECIAL"
exit 0
"""
#: find's type letter -> the kind of a special file named by STOP_SCRIPT.
SPECIAL_KINDS = {
    "p": EntryKind.FIFO,
    "s": EntryKind.SOCKET,
    "c": EntryKind.CHARDEV,
    "b": EntryKind.BLOCKDEV,
}


__all__ = ["BASELINE_SCRIPT", "SPECIAL_KINDS", "STOP_SCRIPT"]

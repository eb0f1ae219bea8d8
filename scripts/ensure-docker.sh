#!/usr/bin/env bash
# Make sure a Docker engine answers, installing and starting one if needed. Idempotent.
#
#   scripts/ensure-docker.sh [--gvisor] [--debootstrap]
#
#   (no flag)      `docker info` works, or: install docker.io (Debian/Ubuntu, root, only if
#                  dockerd is missing), start dockerd (systemd, or in the background with its log
#                  in $PROMPTKILN_DOCKERD_LOG), wait for it (at most $PROMPTKILN_ENGINE_WAIT s).
#   --gvisor       also register gVisor's `runsc` as a Docker runtime: install the runsc package,
#                  add it to /etc/docker/daemon.json (with runsc's own --network=none), reload
#                  dockerd (SIGHUP reloads runtimes).
#   --debootstrap  also install debootstrap, which the air-gapped image build needs.
#
# Root is needed only for what is missing; with everything in place it changes nothing.
set -euo pipefail

want_gvisor=0
want_debootstrap=0
for arg in "$@"; do
    case "$arg" in
        --gvisor) want_gvisor=1 ;;
        --debootstrap) want_debootstrap=1 ;;
        -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "ensure-docker: unknown option $arg (try --help)" >&2; exit 64 ;;
    esac
done

log_file=${PROMPTKILN_DOCKERD_LOG:-/var/log/promptkiln-dockerd.log}
wait_s=${PROMPTKILN_ENGINE_WAIT:-60}
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

say() { echo "ensure-docker: $*" >&2; }
die() { say "$*"; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
engine_up() { docker info >/dev/null 2>&1; }

apt_updated=0
apt_install() {
    is_root || die "need root to install $* (or install it yourself: apt-get install $*)"
    command -v apt-get >/dev/null || die "no apt-get here: install $* with your package manager"
    if [ "$apt_updated" -eq 0 ]; then
        say "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    say "apt-get install $*"
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

wait_for_engine() {
    local deadline=$((SECONDS + wait_s))
    until engine_up; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            [ -f "$log_file" ] && tail -n 30 "$log_file" >&2
            die "dockerd did not answer within ${wait_s}s (log: $log_file)"
        fi
        sleep 1
    done
}

start_engine() {
    if ! command -v dockerd >/dev/null; then
        apt_install docker.io
    fi
    command -v docker >/dev/null || apt_install docker.io
    if engine_up; then return; fi
    is_root || die "the Docker engine is not running and starting it needs root: sudo $0"
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        say "systemctl start docker"
        systemctl start docker || true
    fi
    if ! engine_up && ! pidof dockerd >/dev/null; then
        say "starting dockerd in the background (log: $log_file)"
        mkdir -p "$(dirname "$log_file")"
        nohup dockerd >>"$log_file" 2>&1 </dev/null &
        echo $! >/var/run/promptkiln-dockerd.pid
    fi
    wait_for_engine
}

has_runsc() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

register_gvisor() {
    if has_runsc; then return; fi
    command -v runsc >/dev/null || apt_install runsc
    is_root || die "registering runsc in /etc/docker/daemon.json needs root"
    local runsc_path
    runsc_path=$(command -v runsc)
    say "registering $runsc_path as the Docker runtime \"runsc\""
    mkdir -p /etc/docker
    python3 - "$runsc_path" <<'PY'
import json, os, sys
path = "/etc/docker/daemon.json"
config = {}
if os.path.exists(path) and os.path.getsize(path) > 0:
    with open(path) as fh:
        config = json.load(fh)
# Sandboxes never have a network; `--network=none` keeps gVisor's netstack out entirely (and is
# what lets runsc start where the engine itself runs inside a sandbox, as on some CI machines).
config.setdefault("runtimes", {})["runsc"] = {"path": sys.argv[1], "runtimeArgs": ["--network=none"]}
tmp = path + ".tmp"
with open(tmp, "w") as fh:
    json.dump(config, fh, indent=2)
    fh.write("\n")
os.replace(tmp, path)
PY
    # dockerd reloads `runtimes` from daemon.json on SIGHUP; no restart, running containers stay.
    local pid
    pid=$(pidof -s dockerd || true)
    [ -n "$pid" ] || die "dockerd is not running as a local process; restart it to load runsc"
    kill -HUP "$pid"
    local deadline=$((SECONDS + 20))
    until has_runsc; do
        [ "$SECONDS" -ge "$deadline" ] && die "dockerd did not pick up runsc; restart dockerd"
        sleep 1
    done
}

if ! engine_up; then
    start_engine
fi
if [ "$want_gvisor" -eq 1 ]; then
    register_gvisor
fi
if [ "$want_debootstrap" -eq 1 ] && ! command -v debootstrap >/dev/null; then
    if is_root && command -v apt-get >/dev/null; then
        apt_install debootstrap
    else
        say "note: no debootstrap; the image build will need a container registry"
    fi
fi
gvisor_note=""
if has_runsc; then gvisor_note=", gVisor runsc registered"; fi
say "engine ready: $(docker version --format 'Docker {{.Server.Version}}' 2>/dev/null)$gvisor_note"

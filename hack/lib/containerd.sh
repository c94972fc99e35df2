#!/usr/bin/env bash
# containerd for the node, without systemd: install on first use, write our config, start it in the
# background, wait for its socket, stop it. Sourced by hack/arktos-up.sh; the tests do the same through
# cri/containerd_process.py. The config itself comes from `python -m cri.containerd_config` so that the
# shell and Python paths render the very same file (restrict_oom_score_adj, CNI bridge, pause image).
#
#   source hack/lib/containerd.sh
#   containerd::up DIR            # install if missing, config, start, wait
#   containerd::prepare DIR; containerd::run DIR   # the same in two steps, containerd in the foreground
#   containerd::endpoint DIR      # -> unix://DIR/containerd.sock  (the kubelet's runtime endpoint)
#   containerd::down DIR          # stop it (and its shims, mounts, bridge)
#
# Variables: PY (python with the repo installed) [.venv/bin/python], CONTAINERD_POD_SUBNET [10.88.0.0/16],
# CONTAINERD_BRIDGE [arktos0], CONTAINERD_READY_TIMEOUT seconds [20], CONTAINERD_REGISTRY host:port of
# the registry that stands in for docker.io, registry.k8s.io, gcr.io, quay.io, ghcr.io (hack/lib/registry.sh)
# [empty: none, pulls go upstream].

ARKTOS_ROOT=${ARKTOS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=${PY:-$ARKTOS_ROOT/.venv/bin/python}

containerd::log() { echo "[containerd] $*" >&2; }

# Install containerd, runc and the CNI plugins (Debian packages) when any is missing.
containerd::ensure_installed() {
    if command -v containerd >/dev/null && command -v ctr >/dev/null && command -v runc >/dev/null \
        && command -v iptables >/dev/null && [ -x /usr/lib/cni/bridge ]; then
        return 0
    fi
    containerd::log "installing containerd runc containernetworking-plugins iptables (apt)"
    if [ "$(id -u)" -ne 0 ]; then
        containerd::log "ERROR: not root; run: apt-get install -y containerd runc containernetworking-plugins iptables"
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd runc containernetworking-plugins iptables >/dev/null
}

containerd::socket() { echo "$1/containerd.sock"; }
containerd::endpoint() { echo "unix://$1/containerd.sock"; }

# Write DIR/config.toml, DIR/cni/net.d/10-arktos-bridge.conflist and DIR/certs.d/<host>/hosts.toml.
containerd::write_config() {
    local dir=$1
    (cd "$ARKTOS_ROOT" && "$PY" -m cri.containerd_config "$dir" \
        "${CONTAINERD_POD_SUBNET:-10.88.0.0/16}" "${CONTAINERD_BRIDGE:-arktos0}" "${CONTAINERD_REGISTRY:-}") >/dev/null
}

# containerd in the foreground, in a session of its own (a Ctrl-C on the terminal must reach it only
# through its owner's ordered stop), its pid in DIR/containerd.pid: what a supervisor runs
# (hack/lib/supervisor.sh restarts it when it exits; its shims and containers keep running meanwhile).
# setsid runs containerd in place unless the caller leads a process group; then -w waits for it.
containerd::run() {
    local dir=$1
    rm -f "$(containerd::socket "$dir")"
    echo "$BASHPID" >"$dir/containerd.pid"
    exec setsid -w containerd --config "$dir/config.toml"
}

# Start containerd in the background (own session), pid in DIR/containerd.pid, log in DIR/containerd.log.
containerd::start() {
    local dir=$1
    if containerd::running "$dir"; then
        containerd::log "already running (pid $(cat "$dir/containerd.pid"))"
        return 0
    fi
    containerd::run "$dir" >>"$dir/containerd.log" 2>&1 </dev/null &
    echo $! >"$dir/containerd.pid"
}

containerd::running() {
    local dir=$1
    [ -f "$dir/containerd.pid" ] && kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null
}

# True when the CRI answers on DIR's socket (ctr version talks to the same gRPC server).
containerd::answers() {
    local sock
    sock=$(containerd::socket "$1")
    [ -S "$sock" ] && ctr --address "$sock" version >/dev/null 2>&1
}

# Wait until the CRI answers on the socket.
containerd::wait_ready() {
    local dir=$1 deadline=$((SECONDS + ${CONTAINERD_READY_TIMEOUT:-20}))
    while [ $SECONDS -lt $deadline ]; do
        if ! containerd::running "$dir"; then
            containerd::log "ERROR: containerd exited; last log lines:"
            tail -n 20 "$dir/containerd.log" >&2
            return 1
        fi
        if containerd::answers "$dir"; then
            return 0
        fi
        sleep 0.1
    done
    containerd::log "ERROR: socket $(containerd::socket "$dir") not ready after ${CONTAINERD_READY_TIMEOUT:-20}s"
    return 1
}

# Installed, configured: what containerd::run needs.
containerd::prepare() {
    local dir=$1
    mkdir -p "$dir"
    containerd::ensure_installed
    containerd::write_config "$dir"
}

containerd::up() {
    local dir=$1
    containerd::prepare "$dir"
    containerd::start "$dir"
    containerd::wait_ready "$dir"
    containerd::log "ready at $(containerd::endpoint "$dir")"
}

# Stop containerd, then the shims it started (they outlive it by design), their mounts, the bridge.
containerd::down() {
    local dir=$1 pid sock shim
    sock=$(containerd::socket "$dir")
    if containerd::running "$dir"; then
        pid=$(cat "$dir/containerd.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/containerd.pid"
    for shim in $(pgrep -f "containerd-shim.*-address $sock" || true); do
        for pid in $(cat "/proc/$shim/task/$shim/children" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        kill -KILL "$shim" 2>/dev/null || true
    done
    grep -o " $dir/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    # hostPort NAT rules of the killed sandboxes (no CNI DEL ran for them).
    (cd "$ARKTOS_ROOT" && "$PY" -m cri.hostport_rules "${CONTAINERD_POD_SUBNET:-10.88.0.0/16}") || true
    ip link delete "${CONTAINERD_BRIDGE:-arktos0}" 2>/dev/null || true
}

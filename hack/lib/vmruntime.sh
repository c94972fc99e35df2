#!/usr/bin/env bash
# Arktos's VM runtime (python -m vmruntime: a CRI service that runs pods' virtual machines with qemu),
# without systemd: install qemu on first use, build the VM image when missing, start the runtime in the
# background, wait for its socket, stop it. Sourced by hack/arktos-up.sh.
#
#   source hack/lib/vmruntime.sh
#   arktos::vmruntime::available           # qemu is (or can be) installed and runs here
#   arktos::vmruntime::start DIR LOGFILE [CNI_CONF_DIR]  # image, start, wait; state in DIR, socket DIR/arktos-vm.sock
#   arktos::vmruntime::prepare DIR; arktos::vmruntime::run DIR [CNI_CONF_DIR]  # the same in two steps, foreground
#                                          # CNI_CONF_DIR: the node's CNI network, VM pods get pod IPs on it
#   arktos::vmruntime::endpoint DIR        # -> unix://DIR/arktos-vm.sock  (the kubelet's vm endpoint)
#   arktos::vmruntime::stop DIR            # stop the runtime and kill its VMs
#
# Variables: PY (python with the repo installed) [.venv/bin/python], VM_IMAGE_DIR [_output/vm-images],
# VMRUNTIME_READY_TIMEOUT seconds [30].

ARKTOS_ROOT=${ARKTOS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=${PY:-$ARKTOS_ROOT/.venv/bin/python}
VM_IMAGE_DIR=${VM_IMAGE_DIR:-$ARKTOS_ROOT/_output/vm-images}

arktos::vmruntime::log() { echo "[vmruntime] $*" >&2; }

arktos::vmruntime::socket() { echo "$1/arktos-vm.sock"; }
arktos::vmruntime::endpoint() { echo "unix://$1/arktos-vm.sock"; }

# Install qemu-system-x86 and qemu-utils (Debian packages) when missing.
arktos::vmruntime::ensure_installed() {
    if command -v qemu-system-x86_64 >/dev/null && command -v qemu-img >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        arktos::vmruntime::log "ERROR: not root; run: apt-get install -y --no-install-recommends qemu-system-x86 qemu-utils"
        return 1
    fi
    arktos::vmruntime::log "installing qemu-system-x86 qemu-utils (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 qemu-utils >/dev/null
}

# True when qemu can run a TCG guest here (installs it first if needed). /dev/kvm hangs guests on these
# machines, so the runtime never uses it; TCG only needs the binary.
arktos::vmruntime::available() {
    arktos::vmruntime::ensure_installed >/dev/null 2>&1 || return 1
    # Start an empty TCG machine whose monitor (stdin) tells it to quit at once.
    echo quit | timeout 10 qemu-system-x86_64 -accel tcg -machine none -nodefaults -display none \
        -monitor stdio >/dev/null 2>&1
}

# True when DIR's pid file names a live `python -m vmruntime` of DIR (a stale file may name a reused pid).
arktos::vmruntime::running() {
    local pid
    [ -f "$1/vmruntime.pid" ] || return 1
    pid=$(cat "$1/vmruntime.pid")
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-m vmruntime .*--root $1/root"
}

# Kills VM shims and qemus still running from DIR's containers (after the runtime was SIGKILLed, or
# a run that was killed outright): their command lines name the container directories.
arktos::vmruntime::kill_leftovers() {
    local root="$1/root/containers/" entry
    for entry in /proc/[0-9]*; do
        tr '\0' ' ' <"$entry/cmdline" 2>/dev/null | grep -qF -- "$root" || continue
        kill -KILL "${entry#/proc/}" 2>/dev/null || true
    done
}

# qemu installed, the VM image built: what arktos::vmruntime::run needs.
arktos::vmruntime::prepare() {
    local dir=$1
    mkdir -p "$dir"
    arktos::vmruntime::ensure_installed
    if [ ! -f "$VM_IMAGE_DIR/arktos-vm/image.json" ]; then
        arktos::vmruntime::log "building the VM image into $VM_IMAGE_DIR (once)"
        (cd "$ARKTOS_ROOT" && "$PY" -m vmruntime.images --image-dir "$VM_IMAGE_DIR") >&2
    fi
}

# The runtime in the foreground, in a session of its own, its pid in DIR/vmruntime.pid: what a
# supervisor runs. A runtime that is killed leaves its VMs running (their shims own them) and the
# next one adopts them; SIGTERM stops the VMs with it (--stop-vms-on-exit). With CNI_CONF_DIR (the
# node's CNI conf dir, containerd's) VM pods get pod IPs on that network; CNI plugins from
# VMRUNTIME_CNI_BIN_DIR [/usr/lib/cni].
#   arktos::vmruntime::run DIR [CNI_CONF_DIR]
arktos::vmruntime::run() {
    local dir=$1 cni=()
    if [ -n "${2:-}" ]; then
        cni=(--cni-conf-dir "$2" --cni-bin-dir "${VMRUNTIME_CNI_BIN_DIR:-/usr/lib/cni}")
    fi
    rm -f "$(arktos::vmruntime::socket "$dir")"
    echo "$BASHPID" >"$dir/vmruntime.pid"
    cd "$ARKTOS_ROOT" && exec setsid -w "$PY" -m vmruntime --listen "unix://$(arktos::vmruntime::socket "$dir")" \
        --root "$dir/root" --image-dir "$VM_IMAGE_DIR" --stop-vms-on-exit "${cni[@]}"
}

arktos::vmruntime::listening() {
    [ -S "$(arktos::vmruntime::socket "$1")" ]
}

arktos::vmruntime::start() {
    local dir=$1 log=$2 cni=${3:-} deadline pid
    arktos::vmruntime::prepare "$dir"
    if arktos::vmruntime::running "$dir"; then
        arktos::vmruntime::log "already running (pid $(cat "$dir/vmruntime.pid"))"
        return 0
    fi
    arktos::vmruntime::run "$dir" "$cni" >>"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/vmruntime.pid"
    deadline=$((SECONDS + ${VMRUNTIME_READY_TIMEOUT:-30}))
    while [ $SECONDS -lt $deadline ]; do
        # Our own child: alive is enough (its command line may not show python yet, mid-exec).
        if ! kill -0 "$pid" 2>/dev/null; then
            arktos::vmruntime::log "ERROR: the VM runtime exited; last log lines:"
            tail -n 20 "$log" >&2
            return 1
        fi
        if arktos::vmruntime::listening "$dir"; then
            arktos::vmruntime::log "ready at $(arktos::vmruntime::endpoint "$dir")"
            return 0
        fi
        sleep 0.1
    done
    arktos::vmruntime::log "ERROR: socket $(arktos::vmruntime::socket "$dir") not ready after ${VMRUNTIME_READY_TIMEOUT:-30}s"
    return 1
}

# SIGTERM (the runtime kills its VMs: --stop-vms-on-exit), then SIGKILL after 15 s.
arktos::vmruntime::stop() {
    local dir=$1 pid
    if arktos::vmruntime::running "$dir"; then
        pid=$(cat "$dir/vmruntime.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    arktos::vmruntime::kill_leftovers "$dir"
    rm -f "$dir/vmruntime.pid"
}

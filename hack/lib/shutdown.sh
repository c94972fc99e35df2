#!/usr/bin/env bash
# Stopping everything arktos-up.sh started, whichever way the script ends.
#
# Normally the script's EXIT trap runs arktos::shutdown::run (Ctrl-C, an error, a supervisor
# killed). But a SIGKILL - of the script or of its whole process group - runs no trap, and not
# everything dies with the group: containerd and the VM runtime run in sessions of their own (so
# that a Ctrl-C reaches them only through our ordered stop), containerd's shims in process groups
# of their own, and the pods' containers and qemu VMs under those shims, by design (they must
# survive a runtime restart). So the script first starts a reaper in a new session - out of reach
# of a signal to the script's group - that waits for the script's pid to exit (a pidfd, so a
# reused pid cannot fool it) and then, unless the script recorded a finished stop, runs the same
# stop from the records in ARKTOS_RUN_DIR (hack/lib/process.sh). Its log: LOG_DIR/arktos-up-reaper.log.

arktos::shutdown::reaper_log_file() {
    printf '%s/arktos-up-reaper.log\n' "${LOG_DIR}"
}

# The full stop: daemons in reverse start order, kube-proxy's iptables chains, then the VMs and the containers (with their
# shims, mounts, hostPort rules and bridge, and the pods' tmpfs volumes) that outlive their
# runtimes by design.
arktos::shutdown::run() {
    arktos::process::stop_all
    arktos::proxy::remove_rules
    arktos::kubelet::stop_vmruntime
    arktos::kubelet::stop_containerd
    [[ ! -d "${ARKTOS_RUN_DIR}" ]] || : >"${ARKTOS_RUN_DIR}/stopped"
}

# Starts the reaper for this script (call once ARKTOS_RUN_DIR is initialised, before any daemon).
arktos::shutdown::start_reaper() {
    local watched=$$ start
    start=$(arktos::process::start_time "${watched}")
    (
        export ARKTOS_ROOT ARKTOS_DATA_DIR ARKTOS_RUN_DIR ARKTOS_PYTHON ARKTOS_STOP_TIMEOUT CERT_DIR LOG_DIR \
            CONTAINERD_BRIDGE CONTAINERD_POD_SUBNET
        exec setsid bash -c 'source "${ARKTOS_ROOT}/hack/lib/init.sh" && arktos::shutdown::reap "$@"' \
            arktos-up-reaper "${watched}" "${start}"
    ) </dev/null >>"$(arktos::shutdown::reaper_log_file)" 2>&1 &
    arktos::process::write_identity "${ARKTOS_RUN_DIR}/reaper.pid" "$!"
}

# Returns once PID (which had START_TIME) has exited. A pidfd (Linux >= 5.3) wakes us exactly
# then; where there is none, poll.
arktos::shutdown::wait_for_exit() {
    local pid=$1 start=$2
    "${ARKTOS_PYTHON}" - "${pid}" "${start}" <<'PY' && return 0
import os, select, sys
pid, start = int(sys.argv[1]), sys.argv[2]
try:
    fd = os.pidfd_open(pid)
except ProcessLookupError:
    sys.exit(0)
try:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
except OSError:
    sys.exit(0)
if fields[19] != start or fields[0] == "Z":
    sys.exit(0)  # gone already (or the pid was reused)
select.select([fd], [], [])
PY
    while arktos::process::is "${pid}" "${start}"; do
        sleep 1
    done
}

# The reaper's body: arktos::shutdown::reap PID START_TIME (run by start_reaper, in its own session).
arktos::shutdown::reap() {
    arktos::shutdown::wait_for_exit "$1" "$2"
    if [[ ! -d "${ARKTOS_RUN_DIR}" || -e "${ARKTOS_RUN_DIR}/stopped" ]]; then
        return 0
    fi
    arktos::log::error "arktos-up.sh (pid $1) ended without stopping the cluster; stopping what it started"
    arktos::shutdown::run
    arktos::log::status "stopped everything arktos-up.sh (pid $1) had started"
}

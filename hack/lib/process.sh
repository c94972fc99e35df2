#!/usr/bin/env bash
# Keeps the records of the daemons arktos-up.sh starts, so that whoever stops the cluster - the
# script's EXIT trap on Ctrl-C, or the reaper (hack/lib/shutdown.sh) when the script itself was
# killed - finds every one of them, and stops them all in reverse start order.
#
# Each daemon runs under a supervisor (hack/lib/supervisor.sh) that restarts it when it exits. The
# records live in files under ARKTOS_RUN_DIR [${ARKTOS_DATA_DIR}/run], not in shell variables,
# because the reaper is another process:
#   arktos-up.pid    the script: PID START_TIME
#   components       one line per supervised daemon, in start order: NAME SUPERVISOR_PID START_TIME LOG_FILE
#   NAME.pid         the daemon's current process: PID START_TIME (rewritten on every restart)
#   NAME.exits       one line per exit of the daemon: EPOCH_SECONDS STATUS
#   stopping         exists once a stop began: supervisors start nothing after it
#   stopped          exists once everything was stopped (the reaper then has nothing to do)
# A pid is only acted on while /proc still shows the same start time, so a pid reused by an
# unrelated process after ours exited is never signalled.

ARKTOS_RUN_DIR=${ARKTOS_RUN_DIR:-${ARKTOS_DATA_DIR}/run}
ARKTOS_STOP_TIMEOUT=${ARKTOS_STOP_TIMEOUT:-15}
ARKTOS_SUPERVISOR_PIDS=()
ARKTOS_SUPERVISOR_NAMES=()

# The start time (clock ticks since boot, /proc/PID/stat field 22) of a live, non-zombie PID.
arktos::process::start_time() {
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    read -r -a fields <<<"${stat##*) }"
    [[ "${fields[0]}" != Z ]] || return 1
    printf '%s\n' "${fields[19]}"
}

# True while PID is still the process that had START_TIME.
arktos::process::is() {
    local now
    [[ -n "$1" && -n "$2" ]] || return 1
    now=$(arktos::process::start_time "$1") && [[ "${now}" == "$2" ]]
}

arktos::process::alive() {
    kill -0 "$1" 2>/dev/null
}

# Writes "PID START_TIME" atomically to FILE (readers never see half a line).
arktos::process::write_identity() {
    local file=$1 pid=$2 start
    start=$(arktos::process::start_time "${pid}") || start=gone
    printf '%s %s\n' "${pid}" "${start}" >"${file}.tmp" && mv -f "${file}.tmp" "${file}"
}

# Prepares ARKTOS_RUN_DIR for this run; refuses when another arktos-up still runs on it.
arktos::process::init_run_dir() {
    local pid start
    if [[ -f "${ARKTOS_RUN_DIR}/arktos-up.pid" ]] && read -r pid start <"${ARKTOS_RUN_DIR}/arktos-up.pid" &&
        arktos::process::is "${pid}" "${start}"; then
        arktos::log::error "another arktos-up.sh (pid ${pid}) runs on ARKTOS_DATA_DIR=${ARKTOS_DATA_DIR}"
        return 1
    fi
    # The reaper of a run that was killed may still be stopping what that run left; let it finish
    # (it works from these records, and would stop what we start).
    if [[ -f "${ARKTOS_RUN_DIR}/reaper.pid" ]] && read -r pid start <"${ARKTOS_RUN_DIR}/reaper.pid"; then
        if arktos::process::is "${pid}" "${start}"; then
            arktos::log::status "waiting for the previous run's reaper (pid ${pid}) to finish stopping it"
        fi
        local deadline=$((SECONDS + ARKTOS_STOP_TIMEOUT * 3))
        while arktos::process::is "${pid}" "${start}" && ((SECONDS < deadline)); do
            sleep 0.2
        done
    fi
    rm -rf "${ARKTOS_RUN_DIR}"
    mkdir -p "${ARKTOS_RUN_DIR}"
    arktos::process::write_identity "${ARKTOS_RUN_DIR}/arktos-up.pid" "$$"
}

arktos::process::stopping() {
    [[ -e "${ARKTOS_RUN_DIR}/stopping" ]]
}

# Starts COMMAND under a supervisor and records it:
#   arktos::process::supervise NAME LOG_FILE RESTART_DELAY COMMAND [ARGS...]
# COMMAND runs in the foreground of a subshell (typically a function ending in exec) with stdout
# and stderr appended to LOG_FILE.
arktos::process::supervise() {
    arktos::supervisor::run "$@" &
    ARKTOS_SUPERVISOR_PIDS+=("$!")
    ARKTOS_SUPERVISOR_NAMES+=("$1")
}

# Appends the calling supervisor's own record (it writes it before it starts anything, so no
# daemon ever runs unrecorded): arktos::process::record_supervisor NAME LOG_FILE
arktos::process::record_supervisor() {
    local pid=${BASHPID} # read here: inside $(...) BASHPID names the substitution's subshell
    printf '%s %s %s %s\n' "$1" "${pid}" "$(arktos::process::start_time "${pid}")" "$2" \
        >>"${ARKTOS_RUN_DIR}/components"
}

# The daemon's current pid ("" while none runs).
arktos::process::pid() {
    local pid start
    read -r pid start 2>/dev/null <"${ARKTOS_RUN_DIR}/$1.pid" || return 0
    if arktos::process::is "${pid}" "${start}"; then printf '%s\n' "${pid}"; fi
}

# True once the daemon NAME exited at least once (start-up waits treat that as a failure).
arktos::process::exited() {
    [[ -s "${ARKTOS_RUN_DIR}/$1.exits" ]]
}

arktos::process::log_file() {
    local name log
    while read -r name _ _ log; do
        [[ "${name}" == "$1" ]] && printf '%s\n' "${log}"
    done <"${ARKTOS_RUN_DIR}/components"
}

# Polls CHECK until it succeeds; fails (with the daemon's log tail) when NAME exits meanwhile or
# TIMEOUT seconds pass:  arktos::process::wait_ready NAME TIMEOUT CHECK [ARGS...]
arktos::process::wait_ready() {
    local name=$1 timeout=$2 deadline
    shift 2
    deadline=$((SECONDS + timeout))
    until "$@"; do
        if arktos::process::exited "${name}"; then
            arktos::log::error "${name} exited during start-up"
            arktos::log::tail_file "$(arktos::process::log_file "${name}")"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            arktos::log::error "${name} not ready after ${timeout}s"
            arktos::log::tail_file "$(arktos::process::log_file "${name}")"
            return 1
        fi
        sleep 0.2
    done
}

# SIGTERM, then SIGKILL after TIMEOUT seconds: arktos::process::terminate PID START_TIME TIMEOUT
arktos::process::terminate() {
    local pid=$1 start=$2 timeout=$3 deadline
    arktos::process::is "${pid}" "${start}" || return 0
    kill -TERM "${pid}" 2>/dev/null || true
    deadline=$((SECONDS + timeout))
    while arktos::process::is "${pid}" "${start}" && ((SECONDS < deadline)); do
        sleep 0.1
    done
    if arktos::process::is "${pid}" "${start}"; then
        arktos::log::error "pid ${pid} did not stop in ${timeout}s; killing it"
        kill -KILL "${pid}" 2>/dev/null || true
    fi
    wait "${pid}" 2>/dev/null || true # reap it when it is our child
}

# Stops one recorded daemon: its supervisor first (which SIGTERMs the daemon, SIGKILL after
# ARKTOS_STOP_TIMEOUT), then whatever its pid file still names (a supervisor killed outright
# leaves its daemon running).
arktos::process::stop_component() {
    local name=$1 supervisor=$2 supervisor_start=$3 pid="" start=""
    read -r pid start 2>/dev/null <"${ARKTOS_RUN_DIR}/${name}.pid" || true
    if arktos::process::is "${supervisor}" "${supervisor_start}" || arktos::process::is "${pid}" "${start}"; then
        arktos::log::status "stopping ${name} (pid ${pid:-none})"
    fi
    arktos::process::terminate "${supervisor}" "${supervisor_start}" $((ARKTOS_STOP_TIMEOUT + 5))
    read -r pid start 2>/dev/null <"${ARKTOS_RUN_DIR}/${name}.pid" || true
    arktos::process::terminate "${pid}" "${start}" "${ARKTOS_STOP_TIMEOUT}"
}

# Stops every recorded daemon in reverse start order (kubelet before API server, as upstream).
arktos::process::stop_all() {
    local lines=() i name supervisor start
    [[ -d "${ARKTOS_RUN_DIR}" ]] || return 0
    : >"${ARKTOS_RUN_DIR}/stopping"
    [[ -f "${ARKTOS_RUN_DIR}/components" ]] && mapfile -t lines <"${ARKTOS_RUN_DIR}/components"
    for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
        read -r name supervisor start _ <<<"${lines[i]}"
        arktos::process::stop_component "${name}" "${supervisor}" "${start}"
    done
}

# Blocks until a supervisor itself exits (they never do on their own: only when killed), naming it.
# The wait builtin returns early when a trapped signal arrives, so Ctrl-C is handled at once.
arktos::process::wait_supervisors() {
    local status=0 i
    wait -n "${ARKTOS_SUPERVISOR_PIDS[@]}" || status=$?
    for i in "${!ARKTOS_SUPERVISOR_PIDS[@]}"; do
        if ! arktos::process::alive "${ARKTOS_SUPERVISOR_PIDS[i]}"; then
            arktos::log::error "the supervisor of ${ARKTOS_SUPERVISOR_NAMES[i]} (pid ${ARKTOS_SUPERVISOR_PIDS[i]}) exited with status ${status}; stopping the cluster"
        fi
    done
    return "$((status == 0 ? 1 : status))"
}

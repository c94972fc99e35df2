#!/usr/bin/env bash
# Keeps one daemon running, as systemd's Restart=always keeps a unit running on a real node: when
# the daemon exits (crash, kill -9, a lost leader lease) the supervisor logs its exit status and
# the tail of its log, waits the restart delay (systemd's RestartSec) and starts it again. A
# start-rate limit (systemd's StartLimitBurst/StartLimitIntervalSec) stops a crash loop from
# spinning: past ARKTOS_START_LIMIT_BURST starts within ARKTOS_START_LIMIT_INTERVAL seconds the
# supervisor logs "start limit hit" and holds off until the oldest of those starts ages out.
# systemd would give the unit up instead; a one-machine cluster is better served by trying again
# slowly than by silently losing its API server or kubelet.
#
# One supervisor per daemon, each a background subshell of arktos-up.sh (hack/lib/process.sh
# records it). SIGTERM stops it: the daemon gets SIGTERM, then SIGKILL after ARKTOS_STOP_TIMEOUT.
# Once ARKTOS_RUN_DIR/stopping exists (a stop began) it restarts nothing.

ARKTOS_RESTART_DELAY=${ARKTOS_RESTART_DELAY:-1}
ARKTOS_START_LIMIT_BURST=${ARKTOS_START_LIMIT_BURST:-5}
ARKTOS_START_LIMIT_INTERVAL=${ARKTOS_START_LIMIT_INTERVAL:-60}

# "status 1", or "signal KILL" for a daemon a signal ended (bash reports 128+N).
arktos::supervisor::describe_status() {
    local status=$1
    if ((status > 128)) && kill -l "$((status - 128))" >/dev/null 2>&1; then
        printf 'status %s (signal %s)\n' "${status}" "$(kill -l "$((status - 128))")"
    else
        printf 'status %s\n' "${status}"
    fi
}

# SIGTERM handler: stop the running daemon (if any), then the supervisor exits.
arktos::supervisor::stop_child() {
    local pid=$1 deadline
    [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 0
    kill -TERM "${pid}" 2>/dev/null || true
    deadline=$((SECONDS + ARKTOS_STOP_TIMEOUT))
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.1
    done
    kill -KILL "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
}

# Sleeps without deferring the SIGTERM trap (bash runs traps only between foreground commands, but
# interrupts the wait builtin at once).
arktos::supervisor::sleep() {
    sleep "$1" &
    wait "$!" || true
}

# Holds off while ARKTOS_START_LIMIT_BURST starts happened within the last
# ARKTOS_START_LIMIT_INTERVAL seconds, then counts this start in ARKTOS_SUPERVISOR_STARTS (the
# start times, in SECONDS, of this supervisor's daemon). Fails when a stop began meanwhile.
arktos::supervisor::respect_start_limit() {
    local name=$1 at hold recent
    while true; do
        recent=()
        for at in "${ARKTOS_SUPERVISOR_STARTS[@]}"; do
            ((at > SECONDS - ARKTOS_START_LIMIT_INTERVAL)) && recent+=("${at}")
        done
        ARKTOS_SUPERVISOR_STARTS=("${recent[@]}")
        if ((${#recent[@]} < ARKTOS_START_LIMIT_BURST)); then
            ARKTOS_SUPERVISOR_STARTS+=("${SECONDS}")
            return 0
        fi
        hold=$((recent[0] + ARKTOS_START_LIMIT_INTERVAL - SECONDS))
        arktos::log::error "${name}: start limit hit (${#recent[@]} starts within ${ARKTOS_START_LIMIT_INTERVAL}s); next start in ${hold}s"
        arktos::supervisor::sleep "${hold}"
        ! arktos::process::stopping || return 1
    done
}

# arktos::supervisor::run NAME LOG_FILE RESTART_DELAY COMMAND [ARGS...]  (run it in the background)
arktos::supervisor::run() {
    local name=$1 log_file=$2 delay=$3 child="" status pid_file exits_file
    shift 3
    set +e # a failing test below must never end the supervisor
    ARKTOS_SUPERVISOR_STARTS=()
    arktos::process::record_supervisor "${name}" "${log_file}"
    pid_file="${ARKTOS_RUN_DIR}/${name}.pid"
    exits_file="${ARKTOS_RUN_DIR}/${name}.exits"
    # ${child:-$!}: a SIGTERM between the fork and the assignment still finds the new daemon.
    trap 'arktos::supervisor::stop_child "${child:-$!}"; exit 0' TERM
    while ! arktos::process::stopping; do
        arktos::supervisor::respect_start_limit "${name}" || break
        "$@" >>"${log_file}" 2>&1 </dev/null &
        child=$!
        arktos::process::write_identity "${pid_file}" "${child}"
        [[ ! -s "${exits_file}" ]] || arktos::log::status "${name} started again (pid ${child})"
        status=0
        # 2>/dev/null: bash's own "Killed" job notice; the exit is reported below.
        wait "${child}" 2>/dev/null || status=$?
        printf '%s %s\n' "$(date +%s)" "${status}" >>"${exits_file}"
        arktos::process::stopping && break
        arktos::log::error "${name} (pid ${child}) exited with $(arktos::supervisor::describe_status "${status}"); restarting ${name} in ${delay}s"
        arktos::log::tail_file "${log_file}" 20
        child=""
        arktos::supervisor::sleep "${delay}"
    done
}

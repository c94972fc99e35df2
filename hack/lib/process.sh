#!/usr/bin/env bash
# Keeps track of the daemons a script starts and stops them all on exit or Ctrl-C.
#
# Background jobs of a non-interactive bash ignore SIGINT, so a Ctrl-C on the terminal reaches
# only the script: the trap below forwards SIGTERM (the server shuts down gracefully on it),
# waits a bounded time, then SIGKILLs whatever is left.

ARKTOS_CHILD_PIDS=()
ARKTOS_CHILD_NAMES=()
ARKTOS_CHILD_LOGS=()
ARKTOS_STOP_TIMEOUT=${ARKTOS_STOP_TIMEOUT:-15}

# Records a started daemon: arktos::process::track NAME PID [LOG_FILE]
arktos::process::track() {
    ARKTOS_CHILD_NAMES+=("$1")
    ARKTOS_CHILD_PIDS+=("$2")
    ARKTOS_CHILD_LOGS+=("${3:-}")
}

arktos::process::alive() {
    kill -0 "$1" 2>/dev/null
}

# Stops the tracked daemons in reverse start order (kubelet before API server, as upstream).
arktos::process::stop_all() {
    local i pid name deadline
    for ((i = ${#ARKTOS_CHILD_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${ARKTOS_CHILD_PIDS[i]}
        name=${ARKTOS_CHILD_NAMES[i]}
        arktos::process::alive "${pid}" || continue
        arktos::log::status "stopping ${name} (pid ${pid})"
        kill -TERM "${pid}" 2>/dev/null || true
        deadline=$((SECONDS + ARKTOS_STOP_TIMEOUT))
        while arktos::process::alive "${pid}" && ((SECONDS < deadline)); do
            sleep 0.1
        done
        if arktos::process::alive "${pid}"; then
            arktos::log::error "${name} did not stop in ${ARKTOS_STOP_TIMEOUT}s; killing it"
            kill -KILL "${pid}" 2>/dev/null || true
        fi
        wait "${pid}" 2>/dev/null || true
    done
    ARKTOS_CHILD_PIDS=()
    ARKTOS_CHILD_NAMES=()
    ARKTOS_CHILD_LOGS=()
}

# Installs the cleanup trap; call once, before starting anything.
arktos::process::install_cleanup_trap() {
    trap 'arktos::process::stop_all' EXIT
    trap 'arktos::log::status "interrupted"; exit 130' INT
    trap 'exit 143' TERM
}

# Blocks until any tracked daemon exits; returns its exit code, names it and shows its log's tail. The wait builtin
# returns early when a trapped signal arrives, so Ctrl-C is handled at once.
arktos::process::wait_any() {
    local status=0 i
    wait -n "${ARKTOS_CHILD_PIDS[@]}" || status=$?
    for i in "${!ARKTOS_CHILD_PIDS[@]}"; do
        if ! arktos::process::alive "${ARKTOS_CHILD_PIDS[i]}"; then
            arktos::log::error "${ARKTOS_CHILD_NAMES[i]} (pid ${ARKTOS_CHILD_PIDS[i]}) exited with status ${status}"
            [[ -z "${ARKTOS_CHILD_LOGS[i]}" ]] || arktos::log::tail_file "${ARKTOS_CHILD_LOGS[i]}"
        fi
    done
    return "${status}"
}

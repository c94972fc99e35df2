#!/usr/bin/env bash
# Progress and error lines for the hack/ scripts: one prefix, to stderr for errors, so that a
# person watching arktos-up.sh (and a test reading its output) sees where start-up is.

arktos::log::status() {
    printf '+++ [%s] %s\n' "$(date +'%H:%M:%S')" "$*"
}

arktos::log::error() {
    printf '!!! [%s] %s\n' "$(date +'%H:%M:%S')" "$*" >&2
}

# Prints the last lines of a log file to stderr, to explain why a component died.
arktos::log::tail_file() {
    local file=$1 lines=${2:-40}
    if [[ -f "${file}" ]]; then
        printf -- '--- last %s lines of %s ---\n' "${lines}" "${file}" >&2
        tail -n "${lines}" "${file}" >&2
        printf -- '--- end of %s ---\n' "${file}" >&2
    fi
}

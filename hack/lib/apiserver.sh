#!/usr/bin/env bash
# Starts the Arktos API server (python -m server) on the embedded SQLite store and waits until
# it reports /readyz. One function per step, so arktos-up.sh reads as a list of components and
# the later ones (controller manager, scheduler, containerd, kubelet) get files of their own.

# The plain port never leaves loopback: it has no authentication (as upstream's old
# --insecure-bind-address, which defaulted to 127.0.0.1 whatever the secure bind address was).
arktos::apiserver::bind_address() {
    case "${API_HOST_IP}" in
        127.* | ::1 | localhost) printf '%s\n' "${API_HOST_IP}" ;;
        *)
            arktos::log::error "API_HOST_IP=${API_HOST_IP} is not loopback; the plain port binds 127.0.0.1" \
                "(API_HOST_IP serves the secure port once TLS lands)"
            printf '127.0.0.1\n'
            ;;
    esac
}

arktos::apiserver::url() {
    local host
    host=$(arktos::apiserver::bind_address 2>/dev/null)
    [[ "${host}" == *:* ]] && host="[${host}]"
    printf 'http://%s:%s\n' "${host}" "${API_PORT}"
}

arktos::apiserver::log_file() {
    printf '%s/kube-apiserver.log\n' "${LOG_DIR}"
}

arktos::apiserver::storage_url() {
    printf 'sqlite:///%s/arktos.db\n' "${ARKTOS_DATA_DIR#/}"
}

arktos::apiserver::check_port_free() {
    if (exec 3<>"/dev/tcp/$(arktos::apiserver::bind_address 2>/dev/null)/${API_PORT}") 2>/dev/null; then
        arktos::log::error "port ${API_PORT} is already in use: is another API server running? (set API_PORT)"
        return 1
    fi
}

arktos::apiserver::start() {
    local log_file bind
    log_file=$(arktos::apiserver::log_file)
    bind=$(arktos::apiserver::bind_address)
    arktos::apiserver::check_port_free
    mkdir -p "${ARKTOS_DATA_DIR}" "${LOG_DIR}"
    arktos::log::status "starting kube-apiserver on $(arktos::apiserver::url)" \
        "(data ${ARKTOS_DATA_DIR}, log ${log_file})"
    # cd to the root so `-m server` resolves to this checkout whatever the caller's directory.
    (cd "${ARKTOS_ROOT}" && exec "${ARKTOS_PYTHON}" -m server \
        --data-dir "${ARKTOS_DATA_DIR}" \
        --bind-address "${bind}" \
        --port "${API_PORT}" \
        --storage "$(arktos::apiserver::storage_url)") >"${log_file}" 2>&1 &
    arktos::process::track kube-apiserver "$!"
    ARKTOS_APISERVER_PID=$!
}

# One GET with a short timeout; curl when the machine has it, else the venv's Python.
arktos::apiserver::probe() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 2 "$1" >/dev/null 2>&1
    else
        "${ARKTOS_PYTHON}" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" >/dev/null 2>&1
    fi
}

# Polls /readyz until it answers "ok" or the server dies or ARKTOS_READY_TIMEOUT passes.
arktos::apiserver::wait_ready() {
    local url deadline
    url="$(arktos::apiserver::url)/readyz"
    deadline=$((SECONDS + ARKTOS_READY_TIMEOUT))
    arktos::log::status "waiting for ${url}"
    until arktos::apiserver::probe "${url}"; do
        if ! arktos::process::alive "${ARKTOS_APISERVER_PID}"; then
            arktos::log::error "kube-apiserver exited during start-up"
            arktos::log::tail_file "$(arktos::apiserver::log_file)"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            arktos::log::error "kube-apiserver not ready after ${ARKTOS_READY_TIMEOUT}s"
            arktos::log::tail_file "$(arktos::apiserver::log_file)"
            return 1
        fi
        sleep 0.2
    done
    arktos::log::status "kube-apiserver is ready"
}

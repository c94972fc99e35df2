#!/usr/bin/env bash
# What every foreground cluster script shares before its first daemon and after its last:
# hack/arktos-up.sh (one cluster) and hack/arktos-up-scale-out.sh (tenant and resource partitions)
# install the project on first use, check their directories, take the run directory, start the
# reaper and set the traps, then wait on their supervisors until Ctrl-C.

# First use on a fresh clone: create .venv and install the project (no apt needed yet).
arktos::up::ensure_dependencies() {
    if [[ -x "${ARKTOS_PYTHON}" ]] &&
        (cd "${ARKTOS_ROOT}" && "${ARKTOS_PYTHON}" -c 'import aiohttp, orjson, uvloop, yaml, fastjsonschema, kubernetes_validate, cryptography, nacl') 2>/dev/null; then
        return 0
    fi
    arktos::log::status "installing dependencies into ${ARKTOS_VENV} (first run)"
    VENV=${ARKTOS_VENV} bash "${ARKTOS_ROOT}/hack/install-deps.sh"
}

arktos::up::prepare_directories() {
    local dir
    for dir in "${ARKTOS_DATA_DIR}" "${CERT_DIR}" "${LOG_DIR}"; do
        if ! mkdir -p "${dir}" 2>/dev/null || [[ ! -w "${dir}" ]]; then
            arktos::log::error "cannot write ${dir}; run as root or point the variable elsewhere"
            exit 1
        fi
    done
}

# Takes ARKTOS_RUN_DIR and, before the first daemon, makes sure that whatever ends the script
# (SIGKILL included) stops what it started: the reaper, and the EXIT/INT/TERM traps.
arktos::up::begin_supervision() {
    arktos::process::init_run_dir
    arktos::shutdown::start_reaper
    trap 'arktos::shutdown::run' EXIT
    trap 'arktos::log::status "interrupted"; exit 130' INT
    trap 'exit 143' TERM
}

# Supervisors restart their components for as long as we run; this returns only on a signal
# (handled by the traps) or when a supervisor itself was killed.
arktos::up::serve_until_stopped() {
    local status=0
    arktos::process::wait_supervisors || status=$?
    exit "${status}"
}

# The ready banner's "how to use it" part: arktos::up::print_usage "KUBECTL ARGS" (e.g. "get pods").
arktos::up::print_usage() {
    local kubeconfig
    kubeconfig=$(arktos::kubeconfig::admin_path)
    cat <<USAGE
To use the cluster, in another shell:
  export KUBECONFIG=${kubeconfig}
  kubectl $1
or:
  CERT_DIR=${CERT_DIR} ${ARKTOS_ROOT}/cluster/kubectl.sh $1
A kubeconfig for a user of a tenant (prints its path):
  CERT_DIR=${CERT_DIR} API_HOST_IP=${API_HOST_IP} API_SECURE_PORT=${API_SECURE_PORT} ${ARKTOS_ROOT}/hack/setup-tenant-user.sh TENANT USER [GROUP...]

USAGE
    arktos::log::status "cluster is ready: export KUBECONFIG=${kubeconfig} or run cluster/kubectl.sh $1"
}

#!/usr/bin/env bash
# Starts a local Arktos cluster in the foreground until Ctrl-C (as upstream's
# hack/local-up-cluster.sh / Arktos's hack/arktos-up.sh). At this stage the cluster is the API
# server alone, on an embedded SQLite store; later issues add controller manager, scheduler,
# containerd and kubelet as further start_* steps below.
#
# Environment (defaults in brackets):
#   ARKTOS_DATA_DIR  store files; a restart on the same directory keeps every object [/var/lib/arktos]
#   CERT_DIR         kubeconfigs (admin.kubeconfig), later certificates [/var/run/kubernetes]
#   API_HOST_IP      address in the kubeconfig; the plain port binds it only if loopback [127.0.0.1]
#   API_PORT         plain HTTP port, loopback only, no authentication [8080]
#   API_SECURE_PORT  reserved for the TLS port of a later issue; not bound yet [6443]
#   LOG_DIR          component logs, e.g. $LOG_DIR/kube-apiserver.log [/tmp]
#   ARKTOS_READY_TIMEOUT  seconds to wait for each component to be ready [60]
set -euo pipefail

ARKTOS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
source "${ARKTOS_ROOT}/hack/lib/init.sh"

# First use on a fresh clone: create .venv and install the project (no apt needed yet).
ensure_dependencies() {
    if [[ -x "${ARKTOS_PYTHON}" ]] &&
        (cd "${ARKTOS_ROOT}" && "${ARKTOS_PYTHON}" -c 'import aiohttp, orjson, uvloop, yaml, fastjsonschema, kubernetes_validate') 2>/dev/null; then
        return 0
    fi
    arktos::log::status "installing dependencies into ${ARKTOS_VENV} (first run)"
    VENV=${ARKTOS_VENV} bash "${ARKTOS_ROOT}/hack/install-deps.sh"
}

prepare_directories() {
    local dir
    for dir in "${ARKTOS_DATA_DIR}" "${CERT_DIR}" "${LOG_DIR}"; do
        if ! mkdir -p "${dir}" 2>/dev/null || [[ ! -w "${dir}" ]]; then
            arktos::log::error "cannot write ${dir}; run as root or point the variable elsewhere"
            exit 1
        fi
    done
}

start_apiserver() {
    arktos::apiserver::start
    arktos::apiserver::wait_ready
    arktos::kubeconfig::write_admin "$(arktos::apiserver::url)"
}

print_ready_banner() {
    local kubeconfig
    kubeconfig=$(arktos::kubeconfig::admin_path)
    cat <<BANNER

Arktos API server is running (pid ${ARKTOS_APISERVER_PID}), log: $(arktos::apiserver::log_file)
Data directory: ${ARKTOS_DATA_DIR} (kept across restarts). Press Ctrl-C to stop.

To use the cluster, in another shell:
  export KUBECONFIG=${kubeconfig}
  kubectl get pods
or:
  CERT_DIR=${CERT_DIR} ${ARKTOS_ROOT}/cluster/kubectl.sh get pods

BANNER
    arktos::log::status "cluster is ready: export KUBECONFIG=${kubeconfig} or run cluster/kubectl.sh get pods"
}

main() {
    ensure_dependencies
    prepare_directories
    arktos::process::install_cleanup_trap
    start_apiserver
    # start_controller_manager, start_scheduler, start_containerd, start_kubelet: later issues.
    print_ready_banner
    local status=0
    arktos::process::wait_any || status=$?
    arktos::log::tail_file "$(arktos::apiserver::log_file)"
    exit "${status}"
}

main "$@"

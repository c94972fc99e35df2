#!/usr/bin/env bash
# Starts the Arktos controller manager (python -m controllers) with its own identity
# (controller.kubeconfig: CN=system:kube-controller-manager, not in system:masters), as upstream's
# local-up-cluster starts kube-controller-manager right after the API server is ready. With
# --use-service-account-credentials (as local-up-cluster passes it) each controller acts as its own
# service account kube-system/<controller> of tenant system, bound to system:controller:<controller>.
# Arguments of arktos::controller_manager::start are passed on, e.g. scale-out's
# --controllers=nodelifecycle,nodeipam,ttl --tenant-server-kubeconfig tp0.kubeconfig,tp1.kubeconfig
# (a resource partition) or --controllers=*,-daemonset,-nodelifecycle,-nodeipam,-ttl
# --resource-providers rp0.kubeconfig,rp1.kubeconfig (a tenant partition: pod GC's nodes).

arktos::controller_manager::available() {
    [[ -f "${ARKTOS_ROOT}/controllers/__main__.py" ]]
}

arktos::controller_manager::log_file() {
    printf '%s/kube-controller-manager.log\n' "${LOG_DIR}"
}

arktos::controller_manager::start() {
    local log_file kubeconfig
    log_file=$(arktos::controller_manager::log_file)
    kubeconfig=$(arktos::kubeconfig::controller_path)
    arktos::log::status "starting kube-controller-manager (kubeconfig ${kubeconfig}, log ${log_file})"
    # --root-ca-file: the CA published to every namespace as ConfigMap kube-root-ca.crt, as
    # upstream's local-up-cluster passes it to kube-controller-manager.
    : >"${log_file}"
    # CONTROLLER_MANAGER_EXTRA_FLAGS: more flags, split on spaces (e.g. --node-monitor-grace-period 20s).
    # shellcheck disable=SC2086
    arktos::process::supervise kube-controller-manager "${log_file}" "${ARKTOS_RESTART_DELAY}" \
        arktos::controller_manager::run --kubeconfig "${kubeconfig}" --use-service-account-credentials \
        --root-ca-file "${CERT_DIR}/ca.crt" "$@" ${CONTROLLER_MANAGER_EXTRA_FLAGS:-}
}

# The controller manager process (foreground). One that loses its Lease exits non-zero
# ("leaderelection lost", as kube-controller-manager) and its supervisor starts it again.
arktos::controller_manager::run() {
    cd "${ARKTOS_ROOT}" && exec "${ARKTOS_PYTHON}" -m controllers "$@"
}

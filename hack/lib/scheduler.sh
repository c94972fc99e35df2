#!/usr/bin/env bash
# Starts the Arktos scheduler (python -m scheduler) with its own identity
# (scheduler.kubeconfig: CN=system:kube-scheduler, bound to the bootstrap ClusterRole
# system:kube-scheduler), as upstream's local-up-cluster starts kube-scheduler after the API server.
# It elects itself leader on the Lease kube-system/kube-scheduler (--leader-elect, default true).
# Arguments of arktos::scheduler::start are passed on to the scheduler, e.g. a tenant partition's
# --resource-providers rp0.kubeconfig,rp1.kubeconfig (scale-out: nodes from every resource
# partition, pods and bindings through --kubeconfig); SCHEDULER_EXTRA_FLAGS adds more (split on spaces).

arktos::scheduler::available() {
    [[ -f "${ARKTOS_ROOT}/scheduler/__main__.py" ]]
}

arktos::scheduler::log_file() {
    printf '%s/kube-scheduler.log\n' "${LOG_DIR}"
}

arktos::scheduler::kubeconfig() {
    arktos::kubeconfig::path scheduler
}

arktos::scheduler::start() {
    local log_file kubeconfig
    log_file=$(arktos::scheduler::log_file)
    kubeconfig=$(arktos::scheduler::kubeconfig)
    arktos::log::status "starting kube-scheduler (kubeconfig ${kubeconfig}, log ${log_file})"
    : >"${log_file}"
    # shellcheck disable=SC2086
    arktos::process::supervise kube-scheduler "${log_file}" "${ARKTOS_RESTART_DELAY}" \
        arktos::scheduler::run --kubeconfig "${kubeconfig}" "$@" ${SCHEDULER_EXTRA_FLAGS:-}
}

# The scheduler process (foreground). One that loses its Lease exits non-zero ("leader election
# lost", as kube-scheduler) and its supervisor starts it again as a candidate.
arktos::scheduler::run() {
    cd "${ARKTOS_ROOT}" && exec "${ARKTOS_PYTHON}" -m scheduler "$@"
}

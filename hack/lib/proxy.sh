#!/usr/bin/env bash
# kube-proxy (python -m proxy, iptables mode) next to the kubelet, as upstream's local-up-cluster
# starts it: identity system:kube-proxy (kube-proxy.kubeconfig, bound to the bootstrap ClusterRole
# system:node-proxier), cluster CIDR = the pods' subnet (CONTAINERD_POD_SUBNET), log
# $LOG_DIR/kube-proxy.log, supervised like every component. Its chains carry KUBE_PROXY_CHAIN_PREFIX
# [KUBE], so several clusters share the host's tables; the prefix is noted in ARKTOS_RUN_DIR so the
# stop (hack/lib/shutdown.sh, the reaper too) removes this cluster's chains and jumps (--cleanup).
#
# KUBE_PROXY_HEALTHZ_BIND_ADDRESS: ADDRESS:PORT of its /healthz (upstream's 0.0.0.0:10256) [empty:
# none, so clusters on one host do not fight over the port].
# KUBE_PROXY_NETWORK_ISOLATION: true|false, --network-isolation: pods of different tenants (and of
# different networks of one tenant) cannot open connections to each other's pod or Service IPs
# (docs/design/kube-proxy.md); false leaves the flat pod network [true].

KUBE_PROXY_CHAIN_PREFIX=${KUBE_PROXY_CHAIN_PREFIX:-KUBE}
KUBE_PROXY_HEALTHZ_BIND_ADDRESS=${KUBE_PROXY_HEALTHZ_BIND_ADDRESS:-}
KUBE_PROXY_NETWORK_ISOLATION=${KUBE_PROXY_NETWORK_ISOLATION:-true}

arktos::proxy::available() {
    [[ -f "${ARKTOS_ROOT}/proxy/__main__.py" ]]
}

arktos::proxy::log_file() {
    printf '%s/kube-proxy.log\n' "${LOG_DIR}"
}

# The proxy process itself (foreground).
arktos::proxy::run() {
    cd "${ARKTOS_ROOT}" && exec "${ARKTOS_PYTHON}" -m proxy \
        --kubeconfig "$(arktos::kubeconfig::path kube-proxy)" \
        --hostname-override "${HOSTNAME_OVERRIDE}" \
        --cluster-cidr "${CONTAINERD_POD_SUBNET:-10.88.0.0/16}" \
        --iptables-chain-prefix "${KUBE_PROXY_CHAIN_PREFIX}" \
        --healthz-bind-address "${KUBE_PROXY_HEALTHZ_BIND_ADDRESS}" \
        --network-isolation="${KUBE_PROXY_NETWORK_ISOLATION}"
}

arktos::proxy::start() {
    local log_file
    if ! arktos::proxy::available; then
        arktos::log::status "proxy/__main__.py not present; no kube-proxy started"
        return 0
    fi
    arktos::packages::ensure iptables-restore iptables conntrack
    log_file=$(arktos::proxy::log_file)
    : >"${log_file}"
    printf '%s\n' "${KUBE_PROXY_CHAIN_PREFIX}" >"${ARKTOS_RUN_DIR}/kube-proxy.prefix"
    arktos::log::status "starting kube-proxy (iptables, chains ${KUBE_PROXY_CHAIN_PREFIX}-*," \
        "network isolation ${KUBE_PROXY_NETWORK_ISOLATION}, log ${log_file})"
    arktos::process::supervise kube-proxy "${log_file}" "${ARKTOS_RESTART_DELAY}" arktos::proxy::run
}

# After the proxy stopped: its chains and the jumps into them go (a stopped cluster routes nothing).
arktos::proxy::remove_rules() {
    local prefix
    prefix=$(cat "${ARKTOS_RUN_DIR}/kube-proxy.prefix" 2>/dev/null) || return 0
    [[ -n "${prefix}" ]] || return 0
    arktos::log::status "removing kube-proxy's iptables chains (${prefix}-*)"
    (cd "${ARKTOS_ROOT}" && "${ARKTOS_PYTHON}" -m proxy --cleanup --iptables-chain-prefix "${prefix}") \
        >>"$(arktos::proxy::log_file)" 2>&1 || true
    rm -f "${ARKTOS_RUN_DIR}/kube-proxy.prefix"
}

#!/usr/bin/env bash
# Cluster add-ons, applied with kubectl as system:admin once the API server serves (upstream's
# cluster/addons, which its addon manager or local-up-cluster's start_dns_addon applies the same way).
# Today: cluster DNS (cluster/addons/dns/clusterdns.yaml.in: the kube-dns Service on DNS_SERVER_IP,
# the clusterdns Deployment answering for DNS_DOMAIN, its ServiceAccount and RBAC).
#
#   ENABLE_CLUSTER_DNS  "false" applies no DNS add-on [true]
#   DNS_SERVER_IP       the kube-dns Service's clusterIP, also the kubelet's --cluster-dns
#                       [the 10th address of SERVICE_CLUSTER_IP_RANGE: 10.0.0.10]
#   DNS_DOMAIN          the cluster domain, also the kubelet's --cluster-domain [cluster.local]

# arktos::addons::nth_address CIDR N: the Nth address of an IPv4 range (plain bash: sourced before
# the venv exists).
arktos::addons::nth_address() {
    local ip=${1%/*} bits=${1#*/} a b c d value
    IFS=. read -r a b c d <<<"${ip}"
    value=$(( ((a << 24 | b << 16 | c << 8 | d) & (0xffffffff << (32 - bits)) & 0xffffffff) + $2 ))
    printf '%d.%d.%d.%d\n' $((value >> 24 & 255)) $((value >> 16 & 255)) $((value >> 8 & 255)) $((value & 255))
}

ENABLE_CLUSTER_DNS=${ENABLE_CLUSTER_DNS:-true}
DNS_DOMAIN=${DNS_DOMAIN:-cluster.local}
# The 10th address of the service range, upstream's kube-dns convention (10.0.0.10 for 10.0.0.0/16).
DNS_SERVER_IP=${DNS_SERVER_IP:-$(arktos::addons::nth_address "${SERVICE_CLUSTER_IP_RANGE:-10.0.0.0/16}" 10)}

# arktos::addons::render_dns OUT: the DNS manifests with the domain and server IP filled in.
arktos::addons::render_dns() {
    sed -e "s/__DNS__DOMAIN__/${DNS_DOMAIN}/g" -e "s/__DNS__SERVER__/${DNS_SERVER_IP}/g" \
        "${ARKTOS_ROOT}/cluster/addons/dns/clusterdns.yaml.in" >"$1"
}

# Applies the add-ons; retried a few times, as the API server's bootstrap (RBAC roles, the
# kube-system namespace) may still be settling right after it reports ready.
arktos::addons::apply() {
    if [[ "${ENABLE_CLUSTER_DNS}" != true ]]; then
        arktos::log::status "ENABLE_CLUSTER_DNS=${ENABLE_CLUSTER_DNS}: no DNS add-on"
        return 0
    fi
    local manifest="${ARKTOS_DATA_DIR}/addons/clusterdns.yaml" attempt
    mkdir -p "$(dirname "${manifest}")"
    arktos::addons::render_dns "${manifest}"
    for attempt in 1 2 3 4 5; do
        if CERT_DIR=${CERT_DIR} "${ARKTOS_ROOT}/cluster/kubectl.sh" apply -f "${manifest}" \
            >>"${LOG_DIR}/addons.log" 2>&1; then
            arktos::log::status "cluster DNS applied: Service kube-system/kube-dns on ${DNS_SERVER_IP}, domain ${DNS_DOMAIN} (log ${LOG_DIR}/addons.log)"
            return 0
        fi
        sleep "${attempt}"
    done
    arktos::log::error "applying ${manifest} failed; see ${LOG_DIR}/addons.log"
    return 1
}

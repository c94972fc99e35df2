#!/usr/bin/env bash
# The partitions of a scale-out cluster (hack/arktos-up-scale-out.sh, docs/design/scale-out.md):
# tenant partitions tp0..tp{TP_COUNT-1} and resource partitions rp0..rp{RP_COUNT-1}, each an
# ordinary API server on its own store, all sharing CERT_DIR (one CA, one service-account key pair,
# one known_tokens.csv, one encryption config), behind the gateway on API_SECURE_PORT.
#
# Each partition's components are started by the same functions hack/arktos-up.sh uses, with the
# partition's settings in scope (arktos::partitions::in): ARKTOS_PARTITION=tp0 makes their names
# and logs tp0-kube-apiserver, $LOG_DIR/tp0-kube-apiserver.log, ...; ARKTOS_DATA_DIR becomes
# $ARKTOS_DATA_DIR/tp0; API_HOST_IP:API_SECURE_PORT becomes 127.0.0.1:PARTITION_BASE_PORT+i
# (tp_i at base+i, rp_j at base+TP_COUNT+j). Component kubeconfigs are
# $CERT_DIR/partitions/<name>/{admin,controller,scheduler,kubelet}.kubeconfig: the identities of
# $CERT_DIR's own kubeconfigs (same certificates), pointed at the partition.
#
# STORAGE_BACKEND=etcd gives every partition an etcd of its own (ETCD_MEMBERS members, partition k's
# member i serving clients on ETCD_CLIENT_PORT+2*(k*ETCD_MEMBERS+i)): the API server has no key
# prefix option, so partitions sharing one etcd would share their objects. A deployment on several
# machines points each partition at its own etcd cluster the same way.

TP_COUNT=${TP_COUNT:-2}
RP_COUNT=${RP_COUNT:-2}
HOLLOW_NODES=${HOLLOW_NODES:-2}
PARTITION_BASE_PORT=${PARTITION_BASE_PORT:-$((API_SECURE_PORT + 1))}
TP_CONTROLLERS=${TP_CONTROLLERS:-*,-daemonset,-nodelifecycle,-nodeipam,-ttl}
TP_CONTROLLER_MANAGERS=${TP_CONTROLLER_MANAGERS:-1}
RP_CONTROLLERS=${RP_CONTROLLERS:-nodelifecycle,nodeipam,ttl}
CLUSTER_CIDR=${CLUSTER_CIDR:-10.128.0.0/9}
NODE_CIDR_MASK_SIZE=${NODE_CIDR_MASK_SIZE:-24}
HOLLOW_KUBELET_RESTART_DELAY=${HOLLOW_KUBELET_RESTART_DELAY:-${KUBELET_RESTART_DELAY}}

arktos::partitions::tenant_names() {
    local i
    for ((i = 0; i < TP_COUNT; i++)); do printf 'tp%s\n' "${i}"; done
}

arktos::partitions::resource_names() {
    local j
    for ((j = 0; j < RP_COUNT; j++)); do printf 'rp%s\n' "${j}"; done
}

arktos::partitions::all_names() {
    arktos::partitions::tenant_names
    arktos::partitions::resource_names
}

# Runs FUNCTION NAME for every partition of KIND (tenant, resource or all), in order:
#   arktos::partitions::each KIND FUNCTION
arktos::partitions::each() {
    local name names
    mapfile -t names < <("arktos::partitions::$1_names")
    for name in "${names[@]}"; do
        "$2" "${name}"
    done
}

# tp_i -> i, rp_j -> TP_COUNT+j: the partition's place among all of them (its port offset).
arktos::partitions::index() {
    case "$1" in
        tp*) printf '%s\n' "${1#tp}" ;;
        rp*) printf '%s\n' "$((TP_COUNT + ${1#rp}))" ;;
    esac
}

arktos::partitions::port() { printf '%s\n' "$((PARTITION_BASE_PORT + $(arktos::partitions::index "$1")))"; }
arktos::partitions::url() { printf 'https://127.0.0.1:%s\n' "$(arktos::partitions::port "$1")"; }
arktos::partitions::data_dir() { printf '%s/%s\n' "${ARKTOS_DATA_DIR}" "$1"; }
arktos::partitions::kubeconfig() { printf '%s/partitions/%s/%s.kubeconfig\n' "${CERT_DIR}" "$1" "$2"; }

# COMPONENT's kubeconfigs of every tenant (KIND tenant) or resource (KIND resource) partition, joined
# by commas: the value of --tenant-server-kubeconfig and --resource-providers.
arktos::partitions::kubeconfig_list() {
    local kind=$1 component=$2 name list=()
    while read -r name; do
        list+=("$(arktos::partitions::kubeconfig "${name}" "${component}")")
    done < <("arktos::partitions::${kind}_names")
    (IFS=,; printf '%s\n' "${list[*]}")
}

# Refuses settings a scale-out cluster cannot honour, before anything starts.
arktos::partitions::check_settings() {
    local variable
    for variable in TP_COUNT RP_COUNT; do
        if ! [[ "${!variable}" =~ ^[1-9][0-9]*$ ]]; then
            arktos::log::error "${variable}=${!variable} is not a positive number"
            return 1
        fi
    done
    if ! [[ "${TP_CONTROLLER_MANAGERS}" =~ ^[1-9][0-9]*$ ]]; then
        arktos::log::error "TP_CONTROLLER_MANAGERS=${TP_CONTROLLER_MANAGERS} is not a positive number"
        return 1
    fi
    if ! [[ "${HOLLOW_NODES}" =~ ^[0-9]+$ ]]; then
        arktos::log::error "HOLLOW_NODES=${HOLLOW_NODES} is not a number"
        return 1
    fi
    if ((APISERVER_COUNT != 1)); then
        arktos::log::error "APISERVER_COUNT=${APISERVER_COUNT}: the scale-out cluster runs one API server per partition"
        return 1
    fi
    if arktos::apiserver::insecure_port_enabled; then
        arktos::log::error "API_INSECURE_PORT_ENABLED=true: the gateway serves TLS only"
        return 1
    fi
    if [[ "${STORAGE_BACKEND}" == etcd && -n "${ETCD_SERVERS}" ]]; then
        arktos::log::error "ETCD_SERVERS: partitions need an etcd each (no key prefixes); leave it empty to start them"
        return 1
    fi
    arktos::apiserver::check_settings
}

# Runs COMMAND with partition NAME's settings in scope (bash's dynamic scoping: the functions it
# calls, and the supervisors they fork, see these values):
#   arktos::partitions::in NAME COMMAND [ARGS...]
arktos::partitions::in() {
    local name=$1 data_dir port etcd_port
    shift
    # Computed before the locals below hide the cluster-wide values they derive from.
    data_dir=$(arktos::partitions::data_dir "${name}")
    port=$(arktos::partitions::port "${name}")
    etcd_port=$((ETCD_CLIENT_PORT + 2 * ETCD_MEMBERS * $(arktos::partitions::index "${name}")))
    local ARKTOS_PARTITION=${name} ARKTOS_DATA_DIR=${data_dir} API_HOST_IP=127.0.0.1 API_SECURE_PORT=${port} \
        ETCD_CLIENT_PORT=${etcd_port}
    "$@"
}

# The front-proxy pair the gateway forwards with and the CA the partitions trust it by (hack/lib/pki.sh
# makes them; hack/lib/apiserver.sh passes the request-header flags once the CA exists).
arktos::partitions::check_front_proxy_credentials() {
    local file
    for file in "$(arktos::pki::front_proxy_ca_cert)" "$(arktos::pki::front_proxy_client_cert)" \
        "$(arktos::pki::front_proxy_client_key)"; do
        if [[ ! -s "${file}" ]]; then
            arktos::log::error "${file} is missing: hack/lib/pki.sh makes the front-proxy credentials the gateway needs"
            return 1
        fi
    done
}

# $CERT_DIR/partitions/<name>/<component>.kubeconfig for every partition: the same identity (and
# certificate) as $CERT_DIR/<component>.kubeconfig, at the partition's URL. One Python process.
arktos::partitions::write_kubeconfigs() {
    local name targets=()
    while read -r name; do
        targets+=("${name}=$(arktos::partitions::url "${name}")")
    done < <(arktos::partitions::all_names)
    (cd "${ARKTOS_ROOT}" && "${ARKTOS_PYTHON}" - "${CERT_DIR}" "${targets[@]}") <<'PY'
import sys
from pathlib import Path

from tools.kubeconfig import read_kubeconfig, write_kubeconfig

cert_dir = Path(sys.argv[1])
for target in sys.argv[2:]:
    name, url = target.split("=", 1)
    for component in ("admin", "controller", "scheduler", "kubelet"):
        document = read_kubeconfig(cert_dir / f"{component}.kubeconfig")
        if document is None:
            sys.exit(f"{cert_dir / f'{component}.kubeconfig'} is missing")
        for cluster in document.get("clusters") or []:
            cluster["cluster"]["server"] = url
        for context in document.get("contexts") or []:
            context.get("context", {}).pop("namespace", None)
        write_kubeconfig(cert_dir / "partitions" / name / f"{component}.kubeconfig", document)
PY
}

# Partition NAME's store: its own etcd with STORAGE_BACKEND=etcd (SQLite needs nothing started).
arktos::partitions::start_store() {
    [[ "${STORAGE_BACKEND}" == etcd ]] || return 0
    mkdir -p "$(arktos::partitions::data_dir "$1")"
    arktos::partitions::in "$1" arktos::etcd::start
}

# Partition NAME's API server (not waited for: arktos::partitions::wait_apiserver). Every one
# trusts the gateway's front-proxy identity (upstream's request-header authentication, which
# hack/lib/apiserver.sh sets up); a tenant partition also reads node addresses from the resource
# partitions (--resource-providers) to reach kubelets for logs, exec, attach and port-forward.
arktos::partitions::start_apiserver() {
    local name=$1 ARKTOS_APISERVER_EXTRA_ARGS=()
    if [[ "${name}" == tp* ]]; then
        ARKTOS_APISERVER_EXTRA_ARGS+=(--resource-providers "$(arktos::partitions::kubeconfig_list resource admin)")
    fi
    mkdir -p "$(arktos::partitions::data_dir "${name}")"
    arktos::partitions::in "${name}" arktos::apiserver::start_one 0
}

arktos::partitions::wait_apiserver() {
    arktos::partitions::in "$1" arktos::apiserver::wait_ready
}

# Instance I of partition NAME's controller managers: NAME-controller-manager, then
# NAME-controller-manager-1, ... (its supervised name and its log's).
arktos::partitions::controller_manager_name() {
    printf '%s-controller-manager%s\n' "$1" "$( (($2 == 0)) || printf -- '-%s' "$2")"
}

# Resource partition J's share of CLUSTER_CIDR (node IPAM): the J-th of RP_COUNT equal parts, so
# no two partitions hand out the same pod CIDR.
arktos::partitions::cluster_cidr() {
    "${ARKTOS_PYTHON}" -c 'import ipaddress, itertools, sys
network, parts, index = ipaddress.ip_network(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
bits = (parts - 1).bit_length()
print(next(itertools.islice(network.subnets(prefixlen_diff=bits), index, None)))' \
        "${CLUSTER_CIDR}" "${RP_COUNT}" "${1#rp}"
}

# Partition NAME's controller manager(s) (upstream's kube-controller-manager flags, as arktos-up.sh):
# on a tenant partition the workload controllers without the node ones, TP_CONTROLLER_MANAGERS
# instances working at once (the replicated controllers split the workload by hashKey,
# docs/design/replicated-controllers.md); on a resource partition node lifecycle (evicting in every
# tenant partition), node IPAM and TTL.
arktos::partitions::start_controller_managers() {
    local name=$1 i count=1
    [[ "${name}" == rp* ]] || count=${TP_CONTROLLER_MANAGERS}
    for ((i = 0; i < count; i++)); do
        arktos::partitions::start_controller_manager "${name}" "${i}"
    done
}

arktos::partitions::start_controller_manager() {
    local name=$1 process log_file flags controllers=${TP_CONTROLLERS}
    process=$(arktos::partitions::controller_manager_name "${name}" "$2")
    log_file="${LOG_DIR}/${process}.log"
    [[ "${name}" == tp* ]] || controllers=${RP_CONTROLLERS}
    flags=(--kubeconfig "$(arktos::partitions::kubeconfig "${name}" controller)" --use-service-account-credentials
        --root-ca-file "$(arktos::pki::ca_cert)" --controllers "${controllers}")
    if [[ "${name}" == tp* ]]; then
        # Pod GC judges orphans against the nodes of every resource partition (a tenant partition
        # holds none: every bound pod would look orphaned).
        flags+=(--resource-providers "$(arktos::partitions::kubeconfig_list resource controller)")
    else
        flags+=(--tenant-server-kubeconfig "$(arktos::partitions::kubeconfig_list tenant controller)"
            --allocate-node-cidrs --cluster-cidr "$(arktos::partitions::cluster_cidr "${name}")"
            --node-cidr-mask-size "${NODE_CIDR_MASK_SIZE}")
    fi
    # CONTROLLER_MANAGER_EXTRA_FLAGS: split on spaces, for every controller manager (arktos-up.sh's).
    # shellcheck disable=SC2206
    flags+=(${CONTROLLER_MANAGER_EXTRA_FLAGS:-})
    arktos::log::status "starting ${process} (controllers ${controllers}, log ${log_file})"
    : >"${log_file}"
    arktos::process::supervise "${process}" "${log_file}" "${ARKTOS_RESTART_DELAY}" \
        arktos::controller_manager::run "${flags[@]}"
}

# A tenant partition's scheduler: its pods, the nodes of every resource partition.
arktos::partitions::start_scheduler() {
    local name=$1 log_file="${LOG_DIR}/$1-scheduler.log"
    arktos::log::status "starting ${name}-scheduler (nodes of ${RP_COUNT} resource partitions, log ${log_file})"
    : >"${log_file}"
    arktos::process::supervise "${name}-scheduler" "${log_file}" "${ARKTOS_RESTART_DELAY}" \
        arktos::scheduler::run --kubeconfig "$(arktos::partitions::kubeconfig "${name}" scheduler)" \
        --resource-providers "$(arktos::partitions::kubeconfig_list resource scheduler)"
}

# -- the gateway ----------------------------------------------------------------------------------

arktos::partitions::gateway_log_file() { printf '%s/gateway.log\n' "${LOG_DIR}"; }

arktos::partitions::gateway_flags() {
    local name flags=(
        --bind-address "${API_HOST_IP}"
        --secure-port "${API_SECURE_PORT}"
        --tls-cert-file "$(arktos::pki::serving_cert)"
        --tls-private-key-file "$(arktos::pki::serving_key)"
        --client-ca-file "$(arktos::pki::ca_cert)"
        --token-auth-file "$(arktos::pki::token_file)"
        --service-account-key-file "$(arktos::pki::sa_public_key)"
        --proxy-client-cert-file "$(arktos::pki::front_proxy_client_cert)"
        --proxy-client-key-file "$(arktos::pki::front_proxy_client_key)"
        --partition-ca-file "$(arktos::pki::ca_cert)"
        --partition-kubeconfig "$(arktos::kubeconfig::admin_path)"
    )
    while read -r name; do
        flags+=(--tenant-partition "${name}=$(arktos::partitions::url "${name}")")
    done < <(arktos::partitions::tenant_names)
    while read -r name; do
        flags+=(--resource-partition "${name}=$(arktos::partitions::url "${name}")")
    done < <(arktos::partitions::resource_names)
    printf '%s\n' "${flags[@]}"
}

arktos::partitions::gateway_run() {
    cd "${ARKTOS_ROOT}" && exec "${ARKTOS_PYTHON}" -m gateway "$@"
}

# The gateway on API_HOST_IP:API_SECURE_PORT, the one address users and kubeconfigs know; ready
# once /readyz answers through it.
arktos::partitions::start_gateway() {
    local log_file flags
    log_file=$(arktos::partitions::gateway_log_file)
    arktos::apiserver::check_port_free "${API_HOST_IP}" "${API_SECURE_PORT}" API_SECURE_PORT
    mapfile -t flags < <(arktos::partitions::gateway_flags)
    arktos::log::status "starting the gateway on $(arktos::apiserver::url) for ${TP_COUNT} tenant and ${RP_COUNT} resource partitions (log ${log_file})"
    : >"${log_file}"
    arktos::process::supervise gateway "${log_file}" "${ARKTOS_RESTART_DELAY}" arktos::partitions::gateway_run "${flags[@]}"
    arktos::process::wait_ready gateway "${ARKTOS_READY_TIMEOUT}" arktos::apiserver::probe "$(arktos::apiserver::url)/readyz"
    arktos::log::status "the gateway is ready"
}

# -- nodes ----------------------------------------------------------------------------------------

# The real node (containerd, VM runtime, kubelet as system:node:HOSTNAME_OVERRIDE) registers in rp0
# and takes pods from every tenant partition.
arktos::partitions::start_kubelet() {
    local KUBELET_KUBECONFIG KUBELET_TENANT_SERVER_KUBECONFIG
    KUBELET_KUBECONFIG=$(arktos::partitions::kubeconfig rp0 kubelet)
    KUBELET_TENANT_SERVER_KUBECONFIG=$(arktos::partitions::kubeconfig_list tenant kubelet)
    arktos::kubelet::start
}

# Resource partition NAME's hollow nodes NAME-hollow-0 .. NAME-hollow-{HOLLOW_NODES-1}, one process
# (the kubelet's --hollow mode). One identity plays many nodes, so it is the partition's admin (the
# node authorizer ties system:node:<name> to one node), as kubemark's hollow nodes share one.
arktos::partitions::hollow_node_names() {
    local i
    for ((i = 0; i < HOLLOW_NODES; i++)); do printf '%s-hollow-%s\n' "$1" "${i}"; done
}

arktos::partitions::hollow_kubelet_run() {
    local name=$1 hostname=$1
    # --nodes 1 names its node after --hostname-override, more are <hostname>-hollow-<i>.
    ((HOLLOW_NODES > 1)) || hostname="${name}-hollow-0"
    cd "${ARKTOS_ROOT}" && exec "${ARKTOS_PYTHON}" -m kubelet --hollow --nodes "${HOLLOW_NODES}" \
        --kubeconfig "$(arktos::partitions::kubeconfig "${name}" admin)" \
        --tenant-server-kubeconfig "$(arktos::partitions::kubeconfig_list tenant admin)" \
        --hostname-override "${hostname}" --root-dir "$(arktos::partitions::data_dir "${name}")/hollow-kubelet" \
        --pod-log-dir "$(arktos::partitions::data_dir "${name}")/hollow-pods"
}

arktos::partitions::start_hollow_kubelet() {
    local name=$1 log_file="${LOG_DIR}/$1-hollow-kubelet.log"
    ((HOLLOW_NODES > 0)) || return 0
    arktos::log::status "starting ${HOLLOW_NODES} hollow nodes in ${name} (log ${log_file})"
    : >"${log_file}"
    arktos::process::supervise "${name}-hollow-kubelet" "${log_file}" "${HOLLOW_KUBELET_RESTART_DELAY}" \
        arktos::partitions::hollow_kubelet_run "${name}"
}

# True when each NODE given is Ready in partition NAME
# (asked of the partition itself as system:admin): arktos::partitions::nodes_ready NAME NODE...
arktos::partitions::nodes_ready() {
    local name=$1
    shift
    "${ARKTOS_PYTHON}" - "$(arktos::partitions::url "${name}")" "$(arktos::pki::ca_cert)" \
        "$(arktos::pki::admin_cert)" "$(arktos::pki::admin_key)" "$@" >/dev/null 2>&1 <<'PY'
import json, ssl, sys, urllib.request
url, ca, cert, key, *wanted = sys.argv[1:]
context = ssl.create_default_context(cafile=ca)
context.load_cert_chain(cert, key)
nodes = json.load(urllib.request.urlopen(f"{url}/api/v1/nodes", timeout=5, context=context))["items"]
ready = {n["metadata"]["name"] for n in nodes
         if any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in (n.get("status") or {}).get("conditions") or [])}
sys.exit(0 if set(wanted) <= ready else 1)
PY
}

arktos::partitions::wait_hollow_nodes() {
    local name=$1 nodes
    ((HOLLOW_NODES > 0)) || return 0
    mapfile -t nodes < <(arktos::partitions::hollow_node_names "${name}")
    arktos::log::status "waiting for ${HOLLOW_NODES} hollow nodes of ${name} to be Ready"
    arktos::process::wait_ready "${name}-hollow-kubelet" "${ARKTOS_READY_TIMEOUT}" \
        arktos::partitions::nodes_ready "${name}" "${nodes[@]}"
}

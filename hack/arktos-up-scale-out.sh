#!/usr/bin/env bash
# Starts a local scale-out Arktos cluster in the foreground until Ctrl-C (Arktos's
# hack/arktos-up-scale-out.sh; docs/design/scale-out.md): TP_COUNT tenant partitions and RP_COUNT
# resource partitions, each an API server on a store of its own, behind one gateway on
# API_HOST_IP:API_SECURE_PORT - the address every kubeconfig names, so cluster/kubectl.sh and
# hack/setup-tenant-user.sh work as with hack/arktos-up.sh.
#
#   tenant partition tp_i    API server (tenants' objects) on 127.0.0.1:PARTITION_BASE_PORT+i, its
#                            controller manager (workload controllers, no node ones) and scheduler
#                            (its pods onto the nodes of every resource partition)
#   resource partition rp_j  API server (Nodes, node Leases) on 127.0.0.1:PARTITION_BASE_PORT+TP_COUNT+j,
#                            its controller manager (node lifecycle, evicting in every tenant
#                            partition; node IPAM; TTL) and HOLLOW_NODES hollow nodes
#   gateway                  routes each request to the partition that owns it (python -m gateway)
#   the real node            containerd, the VM runtime and a kubelet registered in rp0, running
#                            pods of every tenant partition
# Each tenant lives in one tenant partition, recorded in its spec.storageClusterId ("0" = tp0):
# the gateway picks the partition holding the fewest tenants when a Tenant is created without one.
#
# Every component runs under a supervisor that restarts it, a reaper stops everything if the
# script is killed, and records are in $ARKTOS_DATA_DIR/run - all as in hack/arktos-up.sh, whose
# libraries (hack/lib/*.sh) start each component here too.
#
# On first start CERT_DIR receives what hack/arktos-up.sh makes there (CA, serving cert, service-
# account keys, known_tokens.csv, encryption config, admin/controller/scheduler/kubelet
# kubeconfigs - pointing at the gateway), the front-proxy CA and client pair the gateway forwards
# with, and $CERT_DIR/partitions/<partition>/{admin,controller,scheduler,kubelet}.kubeconfig (the
# same identities, at the partition). Every partition shares the CA, keys, tokens and encryption
# config.
#
# Environment (defaults in brackets); hack/arktos-up.sh's variables mean the same here:
#   TP_COUNT         tenant partitions tp0..tp{TP_COUNT-1} [2]
#   RP_COUNT         resource partitions rp0..rp{RP_COUNT-1} [2]
#   HOLLOW_NODES     hollow (simulated) nodes per resource partition, rpJ-hollow-0.., one kubelet
#                    process each (log $LOG_DIR/rpJ-hollow-kubelet.log); 0 starts none [2]
#   HOLLOW_KUBELET_RESTART_DELAY  seconds before a hollow kubelet that exited is started again; a
#                    long one lets a test watch its nodes die [KUBELET_RESTART_DELAY]
#   PARTITION_BASE_PORT  first partition port: tp_i on base+i, rp_j on base+TP_COUNT+j, loopback
#                    [API_SECURE_PORT+1]
#   ARKTOS_DATA_DIR  stores, one directory per partition ($ARKTOS_DATA_DIR/tp0/arktos.db, ...) and
#                    the node's; a restart on the same directory keeps every object [/var/lib/arktos]
#   CERT_DIR         certificates, keys, known_tokens.csv and kubeconfigs [/var/run/kubernetes]
#   LOG_DIR          logs: tpI-kube-apiserver.log (and -audit), tpI-controller-manager.log,
#                    tpI-scheduler.log, rpJ-kube-apiserver.log, rpJ-controller-manager.log,
#                    rpJ-hollow-kubelet.log, gateway.log, kubelet.log, containerd.log,
#                    vmruntime.log [/tmp]
#   API_HOST_IP      address the gateway binds and clients use; in the serving cert [127.0.0.1]
#   API_SECURE_PORT  the gateway's TLS port [6443]
#   API_INSECURE_PORT_ENABLED, API_PORT  refused: the gateway serves TLS only [false, 8080]
#   HOSTNAME_OVERRIDE  the real node's name (identity system:node:<name>) [hostname]
#   CONTAINER_RUNTIME_ENDPOINT, CONTAINERD_BRIDGE, CONTAINERD_POD_SUBNET, KUBELET_PORT,
#   KUBELET_RESTART_DELAY, VM_RUNTIME_ENABLED  the real node, as in hack/arktos-up.sh
#                    [empty, arktos0, 10.88.0.0/16, 10250, 2, true]
#   ARKTOS_RESTART_DELAY, ARKTOS_START_LIMIT_BURST, ARKTOS_START_LIMIT_INTERVAL, ARKTOS_STOP_TIMEOUT,
#   ARKTOS_READY_TIMEOUT  supervision and start-up waits, as in hack/arktos-up.sh [1, 5, 60, 15, 60]
#   ARKTOS_ENCRYPTION_PROVIDER_CONFIG  every partition's --encryption-provider-config
#                    [$CERT_DIR/encryption-config.yaml]
#   CONTROLLER_MANAGER_EXTRA_FLAGS  more flags for every controller manager, split on spaces, e.g.
#                    "--node-monitor-grace-period 20s --default-unreachable-toleration-seconds 10" []
#   TP_CONTROLLERS   a tenant partition's --controllers (pod GC there checks the resource
#                    partitions' nodes: --resource-providers) [*,-daemonset,-nodelifecycle,-nodeipam,-ttl]
#   TP_CONTROLLER_MANAGERS  controller-manager instances per tenant partition, all working at once:
#                    the workload controllers split the objects by metadata.hashKey
#                    (docs/design/replicated-controllers.md); logs tpI-controller-manager.log,
#                    tpI-controller-manager-1.log, ... [1]
#   RP_CONTROLLERS   a resource partition's --controllers [nodelifecycle,nodeipam,ttl]
#   CLUSTER_CIDR, NODE_CIDR_MASK_SIZE  node IPAM: each resource partition hands out pod CIDRs of
#                    mask NODE_CIDR_MASK_SIZE from its 1/RP_COUNT share (rounded up to a power of
#                    two) of CLUSTER_CIDR [10.128.0.0/9, 24]
#   STORAGE_BACKEND  sqlite (a file per partition) or etcd (a local etcd per partition: partition
#                    k's member i serves clients on ETCD_CLIENT_PORT+2*(k*ETCD_MEMBERS+i), data in
#                    $ARKTOS_DATA_DIR/<partition>/etcd, log $LOG_DIR/<partition>-etcd.log) [sqlite]
#   ETCD_MEMBERS, ETCD_CLIENT_PORT, ETCD_RESTART_DELAY  per partition, as in hack/arktos-up.sh
#                    [1, 2379, ARKTOS_RESTART_DELAY]; ETCD_SERVERS is refused (the API server has no
#                    key prefix, so partitions cannot share one etcd)
#   APISERVER_COUNT  must stay 1 (one API server per partition) [1]
set -euo pipefail

ARKTOS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
source "${ARKTOS_ROOT}/hack/lib/init.sh"
source "${ARKTOS_ROOT}/hack/lib/partitions.sh"

prepare_credentials() {
    arktos::pki::ensure_cluster_credentials
    arktos::partitions::check_front_proxy_credentials
    arktos::partitions::write_kubeconfigs
    arktos::apiserver::ensure_encryption_config
}

# Every partition's store and API server, started together and then waited for (each takes a few
# seconds to open its store and bootstrap).
start_partitions() {
    arktos::partitions::each all arktos::partitions::start_store
    arktos::partitions::each all arktos::partitions::start_apiserver
    arktos::partitions::each all arktos::partitions::wait_apiserver
}

start_control_loops() {
    arktos::partitions::each all arktos::partitions::start_controller_managers
    arktos::partitions::each tenant arktos::partitions::start_scheduler
}

# The real node in rp0 (as hack/arktos-up.sh's: containerd, VM runtime, kubelet; Ready through the
# gateway), then the hollow nodes of every resource partition.
start_nodes() {
    [[ -n "${CONTAINER_RUNTIME_ENDPOINT:-}" ]] || arktos::registry::start
    arktos::kubelet::start_containerd
    arktos::kubelet::start_vmruntime
    arktos::partitions::start_kubelet
    arktos::partitions::each resource arktos::partitions::start_hollow_kubelet
    arktos::kubelet::wait_node_ready
    arktos::partitions::each resource arktos::partitions::wait_hollow_nodes
}

print_partition() {
    printf '  %-4s %s  log %s/%s-kube-apiserver.log  data %s\n' "$1" "$(arktos::partitions::url "$1")" \
        "${LOG_DIR}" "$1" "$(arktos::partitions::data_dir "$1")"
}

print_ready_banner() {
    cat <<BANNER

Arktos scale-out cluster: gateway at $(arktos::apiserver::url) (log $(arktos::partitions::gateway_log_file)),
${TP_COUNT} tenant and ${RP_COUNT} resource partitions:
$(arktos::partitions::each all print_partition)
Node ${HOSTNAME_OVERRIDE} (rp0) is Ready (kubelet log: $(arktos::kubelet::log_file)); ${HOLLOW_NODES} hollow nodes per resource partition.
Credentials: ${CERT_DIR} (partition kubeconfigs in ${CERT_DIR}/partitions). Press Ctrl-C to stop.

BANNER
    arktos::up::print_usage "get nodes"
}

main() {
    arktos::partitions::check_settings
    arktos::up::ensure_dependencies
    arktos::up::prepare_directories
    prepare_credentials
    arktos::up::begin_supervision
    start_partitions
    start_control_loops
    arktos::partitions::start_gateway
    start_nodes
    print_ready_banner
    arktos::up::serve_until_stopped
}

main "$@"

#!/usr/bin/env bash
# Starts a local Arktos cluster in the foreground until Ctrl-C (as upstream's
# hack/local-up-cluster.sh / Arktos's hack/arktos-up.sh): the API server on an embedded SQLite
# store (or one or several API servers on etcd: STORAGE_BACKEND below), serving TLS, the controller manager, the scheduler, containerd, the VM runtime and a
# kubelet whose Node must be Ready before the cluster is announced; Ctrl-C stops them all, pods'
# containers and VMs included.
#
# Every component runs under a supervisor, as systemd's Restart=always would run it: one that exits
# (crash, kill -9, a lost leader lease) is logged with its exit status and log tail and started
# again after a delay, the others carry on; pods keep running across restarts of containerd, the
# VM runtime and the kubelet. Only a failure during start-up stops the script. A reaper in its own
# session stops everything the script started if the script itself is killed (even with SIGKILL).
# Records (pids, exits) are in $ARKTOS_DATA_DIR/run; see hack/lib/process.sh.
#
# On first start CERT_DIR receives a CA (ca.crt, ca.key), the API serving cert, the
# service-account key pair (sa.key, sa.pub), known_tokens.csv (an admin token row) and the
# kubeconfigs admin (CN=system:admin, O=system:masters), controller, scheduler and kubelet, and
# encryption-config.yaml (a random aesgcm key that encrypts Secrets in the store, mode 0600);
# later starts reuse them. hack/setup-tenant-user.sh issues kubeconfigs for tenant users.
#
# Environment (defaults in brackets):
#   ARKTOS_DATA_DIR  store files; a restart on the same directory keeps every object [/var/lib/arktos]
#   CERT_DIR         certificates, keys, known_tokens.csv and kubeconfigs [/var/run/kubernetes]
#   API_HOST_IP      address the TLS port binds and clients use; in the serving cert [127.0.0.1]
#   API_SECURE_PORT  TLS port [6443]
#   API_INSECURE_PORT_ENABLED  "true" also opens the plain HTTP port, loopback only, no
#                    authentication (upstream's retired insecure port) [false]
#   API_PORT         that plain HTTP port, used only when API_INSECURE_PORT_ENABLED=true [8080]
#   HOSTNAME_OVERRIDE  node name of the kubelet identity system:node:<name> [hostname]
#   LOG_DIR          component logs, e.g. $LOG_DIR/kube-apiserver.log, kube-apiserver-audit.log,
#                    kubelet.log, containerd.log [/tmp]
#   CONTAINER_RUNTIME_ENDPOINT  runtime(s) the kubelet uses instead of starting containerd: a URL or
#                    name,workloadType,url;... [empty: containerd in $ARKTOS_DATA_DIR/containerd]
#   CONTAINERD_BRIDGE, CONTAINERD_POD_SUBNET  containerd's CNI bridge and pod subnet [arktos0, 10.88.0.0/16]
#   REGISTRY         host:port of a running image registry to push the node's images to and pull from;
#                    empty starts Debian's docker-registry (storage $ARKTOS_DATA_DIR/registry, log
#                    $LOG_DIR/registry.log) as the mirror of docker.io, registry.k8s.io, gcr.io, quay.io,
#                    ghcr.io; images built by hack/build-images.sh, cached in ~/.cache/arktos/images []
#   REGISTRY_PORT    that registry's port on 127.0.0.1 [5000]
#   KUBELET_PORT     the kubelet's HTTPS port for logs/exec/attach/port-forward [10250]
#   KUBELET_RESTART_DELAY  seconds before a kubelet that exited is started again [2]
#   KUBE_PROXY_CHAIN_PREFIX  prefix of kube-proxy's iptables chains (KUBE-SERVICES...), removed on
#                    stop; give each cluster on one host its own (1-7 upper-case characters) [KUBE]
#   KUBE_PROXY_HEALTHZ_BIND_ADDRESS  ADDRESS:PORT of kube-proxy's /healthz [empty: none]
#   KUBE_PROXY_NETWORK_ISOLATION  true|false: kube-proxy refuses pod-to-pod connections across
#                            tenants' networks (pod and Service IPs; cluster DNS excepted) [true]
#   ARKTOS_RESTART_DELAY  the same for every other component (systemd's RestartSec) [1]
#   ARKTOS_START_LIMIT_BURST, ARKTOS_START_LIMIT_INTERVAL  at most BURST starts of one component
#                    within INTERVAL seconds; past that its next start waits (systemd's
#                    StartLimitBurst/StartLimitIntervalSec, holding off instead of giving up) [5, 60]
#   ARKTOS_STOP_TIMEOUT  seconds a component gets to stop on SIGTERM before SIGKILL [15]
#   CONTROLLER_MANAGER_EXTRA_FLAGS  more flags for python -m controllers, split on spaces, e.g.
#                    "--node-monitor-grace-period 20s --default-unreachable-toleration-seconds 10" []
#   SCHEDULER_EXTRA_FLAGS  more flags for python -m scheduler, split on spaces []
#   VM_RUNTIME_ENABLED  "false" starts no qemu VM runtime (the node then reports VmRuntimeReady=False)
#                    [true; skipped anyway where qemu cannot run]
#   ARKTOS_READY_TIMEOUT  seconds to wait for each component to be ready [60]
#   ARKTOS_ENCRYPTION_PROVIDER_CONFIG  the API server's --encryption-provider-config; made on first
#                    start when missing, used as it is when present, empty: Secrets stored in
#                    plain [$CERT_DIR/encryption-config.yaml]
#   STORAGE_BACKEND  the API servers' store: sqlite ($ARKTOS_DATA_DIR/arktos.db, one server only)
#                    or etcd [sqlite]
#   ETCD_SERVERS     with STORAGE_BACKEND=etcd: an existing etcd cluster, URLs or host:port joined by
#                    commas (upstream's --etcd-servers); empty starts a local etcd [empty]
#   ETCD_CAFILE, ETCD_CERTFILE, ETCD_KEYFILE  TLS towards that cluster: its CA, and a client
#                    certificate and key (the API server's --etcd-cafile/--etcd-certfile/--etcd-keyfile) []
#   ETCD_MEMBERS     members of the local etcd, each on loopback, supervised like every component;
#                    data in $ARKTOS_DATA_DIR/etcd (etcd/etcd-I for several), log $LOG_DIR/etcd.log
#                    (etcd-I.log); keep the count for a data directory once made [1]
#   ETCD_CLIENT_PORT member I serves clients on ETCD_CLIENT_PORT+2I, its peers on the port after [2379]
#   ETCD_RESTART_DELAY  seconds before an etcd member that exited is started again [ARKTOS_RESTART_DELAY]
#   APISERVER_COUNT  API servers on the same etcd (STORAGE_BACKEND=etcd only above 1); several are
#                    named kube-apiserver-I, log to $LOG_DIR/kube-apiserver-I.log and serve TLS on
#                    127.0.0.1:APISERVER_BACKEND_PORT+I behind HAProxy in TCP mode (TLS passthrough,
#                    so client certificates reach them) on API_HOST_IP:API_SECURE_PORT; its log is
#                    $LOG_DIR/haproxy.log, its config $ARKTOS_DATA_DIR/haproxy/haproxy.cfg [1]
#   APISERVER_BACKEND_PORT  the first of those ports [API_SECURE_PORT+1]
#   SERVICE_CLUSTER_IP_RANGE  CIDR Service ClusterIPs come from; the `kubernetes` Service gets its
#                    first address (in the serving cert) [10.0.0.0/16]
#   SERVICE_NODE_PORT_RANGE  ports NodePort Services get node ports from [30000-32767]
#   NETWORK_SERVICE_CIDR_POOL  CIDR whose /24s tenant Networks (ipam Arktos) get as their Service
#                    ranges, kube-dns-<net> at the 10th address, kubernetes-<net> at the 1st; must
#                    not overlap SERVICE_CLUSTER_IP_RANGE; a /12 to a /24 (the serving cert names each
#                    /24's first address, so in-cluster clients verify kubernetes-<net>) [10.96.0.0/12]
#   API_ADVERTISE_ADDRESS  where pods reach the API server(s): each also listens there on its own
#                    port and is listed in the `kubernetes` Service's endpoints; in the serving cert
#                    [the default route's address, the node's InternalIP]
#   ENABLE_CLUSTER_DNS  "false" applies no cluster DNS add-on (hack/lib/addons.sh) [true]
#   DNS_SERVER_IP    the kube-dns Service's clusterIP (kube-system, tenant system), the kubelet's
#                    --cluster-dns [the 10th address of SERVICE_CLUSTER_IP_RANGE: 10.0.0.10]
#   DNS_DOMAIN       the cluster domain, the kubelet's --cluster-domain [cluster.local]
set -euo pipefail

ARKTOS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
source "${ARKTOS_ROOT}/hack/lib/init.sh"

prepare_credentials() {
    arktos::pki::ensure_cluster_credentials
}

# etcd first when the API servers store into it and no ETCD_SERVERS were given (hack/lib/etcd.sh).
start_etcd() {
    [[ "${STORAGE_BACKEND}" == etcd ]] || return 0
    arktos::apiserver::check_settings
    arktos::etcd::start
}

start_apiserver() {
    arktos::apiserver::start
    arktos::apiserver::wait_ready
}

# The controllers package arrives in parallel with this script; start it once it exists.
start_controller_manager() {
    if ! arktos::controller_manager::available; then
        arktos::log::status "controllers/__main__.py not present yet; no controller manager started"
        return 0
    fi
    arktos::controller_manager::start
}

# The scheduler places every tenant's pods (python -m scheduler); log ${LOG_DIR}/kube-scheduler.log.
start_scheduler() {
    if ! arktos::scheduler::available; then
        arktos::log::status "scheduler/__main__.py not present yet; no scheduler started"
        return 0
    fi
    arktos::scheduler::start
}

# The image registry containerd pulls from, filled with the node's images (hack/lib/registry.sh);
# skipped when CONTAINER_RUNTIME_ENDPOINT names a runtime.
start_registry() {
    arktos::kubelet::available && [[ -z "${CONTAINER_RUNTIME_ENDPOINT:-}" ]] || return 0
    arktos::registry::start
}

# containerd under ${ARKTOS_DATA_DIR}/containerd, pulling from the registry above, log
# ${LOG_DIR}/containerd.log; skipped when CONTAINER_RUNTIME_ENDPOINT names a runtime.
start_containerd() {
    arktos::kubelet::available || return 0
    arktos::kubelet::start_containerd
}

# The qemu VM runtime under ${ARKTOS_DATA_DIR}/vmruntime (qemu installed, VM image built on first use),
# log ${LOG_DIR}/vmruntime.log; the kubelet gets it as its vm endpoint.
start_vmruntime() {
    arktos::kubelet::available || return 0
    arktos::kubelet::start_vmruntime
}

# The kubelet as system:node:${HOSTNAME_OVERRIDE}; the cluster is ready once its Node is Ready.
start_kubelet() {
    if ! arktos::kubelet::available; then
        arktos::log::status "kubelet/__main__.py not present yet; no kubelet started"
        return 0
    fi
    arktos::kubelet::start
    arktos::kubelet::wait_node_ready
}

# Add-ons (hack/lib/addons.sh): cluster DNS from cluster/addons/dns, applied with kubectl; its pods
# start as the kubelet runs them (kubectl get pods -n kube-system).
start_addons() {
    arktos::addons::apply
}

print_ready_banner() {
    cat <<BANNER

Arktos API server is running at $(arktos::apiserver::url) (pid ${ARKTOS_APISERVER_PID}), log: $(arktos::apiserver::log_file)$(arktos::apiserver::several && printf ' (one per server, behind haproxy)' || true)
Node ${HOSTNAME_OVERRIDE} is Ready (kubelet log: $(arktos::kubelet::log_file)).
Data directory: ${ARKTOS_DATA_DIR} (kept across restarts). Credentials: ${CERT_DIR}. Press Ctrl-C to stop.

BANNER
    arktos::up::print_usage "get pods"
}

main() {
    arktos::up::ensure_dependencies
    arktos::up::prepare_directories
    prepare_credentials
    # Before the first daemon: whatever ends this script, SIGKILL included, stops what it started.
    arktos::up::begin_supervision
    start_etcd
    start_apiserver
    start_controller_manager
    start_scheduler
    start_registry
    start_containerd
    start_vmruntime
    start_kubelet
    arktos::proxy::start  # kube-proxy next to the kubelet (hack/lib/proxy.sh), log $LOG_DIR/kube-proxy.log
    start_addons
    print_ready_banner
    arktos::up::serve_until_stopped
}

main "$@"

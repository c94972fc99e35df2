#!/usr/bin/env bash
# Starts the Arktos API server (python -m server) on the embedded SQLite store, serving TLS on
# API_HOST_IP:API_SECURE_PORT with the credentials hack/lib/pki.sh made, and waits until it
# reports /readyz. One function per step, so arktos-up.sh reads as a list of components and the
# later ones (controller manager, scheduler, containerd, kubelet) get files of their own.
#
# STORAGE_BACKEND=etcd stores into etcd (hack/lib/etcd.sh) instead; there APISERVER_COUNT=N starts
# N servers on the same etcd, server i (0-based) named kube-apiserver-i, serving TLS on
# 127.0.0.1:APISERVER_BACKEND_PORT+i, logging to $LOG_DIR/kube-apiserver-i.log (audit:
# kube-apiserver-audit-i.log), behind HAProxy on API_SECURE_PORT (hack/lib/haproxy.sh). SQLite
# serves one server only: its revision counter lives in the server's process.

STORAGE_BACKEND=${STORAGE_BACKEND:-sqlite}
APISERVER_COUNT=${APISERVER_COUNT:-1}
APISERVER_BACKEND_PORT=${APISERVER_BACKEND_PORT:-$((API_SECURE_PORT + 1))}

# Services: ClusterIPs and node ports come from these ranges (upstream's --service-cluster-ip-range,
# --service-node-port-range); the `kubernetes` Service gets the first address. Pods reach the API
# server(s) on API_ADVERTISE_ADDRESS (upstream's --advertise-address; default: the default route's
# address, what the kubelet reports as InternalIP), where each server also listens on its own port.
SERVICE_CLUSTER_IP_RANGE=${SERVICE_CLUSTER_IP_RANGE:-10.0.0.0/16}
SERVICE_NODE_PORT_RANGE=${SERVICE_NODE_PORT_RANGE:-30000-32767}
# Each tenant Network of ipam Arktos gets a /24 of this pool for its Services (disjoint from
# SERVICE_CLUSTER_IP_RANGE; tenant system's default network keeps the cluster range).
NETWORK_SERVICE_CIDR_POOL=${NETWORK_SERVICE_CIDR_POOL:-10.96.0.0/12}
API_ADVERTISE_ADDRESS=${API_ADVERTISE_ADDRESS:-}

# Service-account tokens name this issuer, as upstream's local-up-cluster sets it.
ARKTOS_SERVICE_ACCOUNT_ISSUER=${ARKTOS_SERVICE_ACCOUNT_ISSUER:-https://kubernetes.default.svc}

arktos::apiserver::insecure_port_enabled() {
    [[ "${API_INSECURE_PORT_ENABLED}" == "true" ]]
}

# The plain port never leaves loopback: it has no authentication (as upstream's old
# --insecure-bind-address, which defaulted to 127.0.0.1 whatever the secure bind address was).
arktos::apiserver::bind_address() {
    case "${API_HOST_IP}" in
        127.* | ::1 | localhost) printf '%s\n' "${API_HOST_IP}" ;;
        *) printf '127.0.0.1\n' ;;
    esac
}

arktos::apiserver::url_host() {
    local host=$1
    [[ "${host}" == *:* ]] && host="[${host}]"
    printf '%s\n' "${host}"
}

# The URL every client uses: TLS on API_HOST_IP:API_SECURE_PORT.
arktos::apiserver::url() {
    printf 'https://%s:%s\n' "$(arktos::apiserver::url_host "${API_HOST_IP}")" "${API_SECURE_PORT}"
}

# The plain-HTTP URL, meaningful only with API_INSECURE_PORT_ENABLED=true.
arktos::apiserver::insecure_url() {
    printf 'http://%s:%s\n' "$(arktos::apiserver::url_host "$(arktos::apiserver::bind_address)")" "${API_PORT}"
}

# API_ADVERTISE_ADDRESS, else the source address of the default route (127.0.0.1 without one).
arktos::apiserver::advertise_address() {
    local address=${API_ADVERTISE_ADDRESS}
    if [[ -z "${address}" ]]; then
        address=$(ip -4 -o route get 198.51.100.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
    fi
    printf '%s\n' "${address:-127.0.0.1}"
}

# The first address of SERVICE_CLUSTER_IP_RANGE: the `kubernetes` Service's (10.0.0.1 of 10.0.0.0/16).
arktos::apiserver::first_service_ip() {
    local network=${SERVICE_CLUSTER_IP_RANGE%/*} bits=${SERVICE_CLUSTER_IP_RANGE#*/} a b c d value
    IFS=. read -r a b c d <<<"${network}"
    value=$(((a << 24 | b << 16 | c << 8 | d) & (0xffffffff << (32 - bits)) & 0xffffffff))
    value=$((value + 1))
    printf '%s.%s.%s.%s\n' $((value >> 24 & 255)) $((value >> 16 & 255)) $((value >> 8 & 255)) $((value & 255))
}

arktos::apiserver::several() {
    ((APISERVER_COUNT > 1))
}

# Server I's suffix: "" for the only one, "-I" among several (its name, log and audit log carry it).
arktos::apiserver::suffix() {
    if arktos::apiserver::several; then printf -- '-%s\n' "${1:-0}"; else printf '\n'; fi
}

# ARKTOS_PARTITION (set by hack/lib/partitions.sh for one partition of a scale-out cluster, empty
# otherwise) prefixes the name and the log files: tp0-kube-apiserver, $LOG_DIR/tp0-kube-apiserver.log.
arktos::apiserver::name() {
    printf '%skube-apiserver%s\n' "${ARKTOS_PARTITION:+${ARKTOS_PARTITION}-}" "$(arktos::apiserver::suffix "${1:-0}")"
}

# The loopback port server I serves on behind the load balancer (only with APISERVER_COUNT>1).
arktos::apiserver::backend_port() {
    printf '%s\n' "$((APISERVER_BACKEND_PORT + $1))"
}

arktos::apiserver::log_file() {
    printf '%s/%s.log\n' "${LOG_DIR}" "$(arktos::apiserver::name "${1:-0}")"
}

arktos::apiserver::audit_log_file() {
    printf '%s/%skube-apiserver-audit%s.log\n' "${LOG_DIR}" "${ARKTOS_PARTITION:+${ARKTOS_PARTITION}-}" \
        "$(arktos::apiserver::suffix "${1:-0}")"
}

arktos::apiserver::storage_url() {
    if [[ "${STORAGE_BACKEND}" == etcd ]]; then
        printf 'etcd://%s\n' "$(arktos::etcd::endpoints)"
    else
        printf 'sqlite:///%s/arktos.db\n' "${ARKTOS_DATA_DIR#/}"
    fi
}

# Refuses combinations that cannot work, before anything starts.
arktos::apiserver::check_settings() {
    if [[ "${STORAGE_BACKEND}" != sqlite && "${STORAGE_BACKEND}" != etcd ]]; then
        arktos::log::error "STORAGE_BACKEND=${STORAGE_BACKEND}: expected sqlite or etcd"
        return 1
    fi
    if ! [[ "${APISERVER_COUNT}" =~ ^[1-9][0-9]*$ ]]; then
        arktos::log::error "APISERVER_COUNT=${APISERVER_COUNT} is not a positive number"
        return 1
    fi
    if arktos::apiserver::several && [[ "${STORAGE_BACKEND}" != etcd ]]; then
        arktos::log::error "APISERVER_COUNT=${APISERVER_COUNT} needs STORAGE_BACKEND=etcd: a SQLite store serves one API server only"
        return 1
    fi
    if arktos::apiserver::several && arktos::apiserver::insecure_port_enabled; then
        arktos::log::error "API_INSECURE_PORT_ENABLED=true needs APISERVER_COUNT=1 (the plain port is not load-balanced)"
        return 1
    fi
}

arktos::apiserver::check_port_free() {
    local host=$1 port=$2 variable=$3
    if (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null; then
        arktos::log::error "port ${port} on ${host} is already in use: is another API server running? (set ${variable})"
        return 1
    fi
}

# The API server's client identity towards kubelets (CN=kube-apiserver-kubelet-client, no group: the
# bootstrap binding kube-apiserver:kubelet-apis gives it system:kubelet-api-admin, which the kubelets'
# SubjectAccessReviews check) for logs/exec/attach/port-forward, made by tools.pki.
arktos::apiserver::kubelet_client_cert() { printf '%s/client-kube-apiserver-kubelet.crt\n' "${CERT_DIR}"; }
arktos::apiserver::kubelet_client_key() { printf '%s/client-kube-apiserver-kubelet.key\n' "${CERT_DIR}"; }

# Secrets at rest: upstream's EncryptionConfiguration, one random 32-byte aesgcm key for secrets
# (identity second, so Secrets stored before encryption was on stay readable until rewritten).
# Made once, mode 0600, and reused: losing it loses every Secret in the store.
arktos::apiserver::encryption_config() {
    printf '%s\n' "${ARKTOS_ENCRYPTION_PROVIDER_CONFIG-${CERT_DIR}/encryption-config.yaml}"
}

arktos::apiserver::ensure_encryption_config() {
    local path key
    path=$(arktos::apiserver::encryption_config)
    [[ -z "${path}" || -s "${path}" ]] && return 0
    arktos::log::status "generating an aesgcm key for Secrets at rest in ${path}"
    key=$(head -c 32 /dev/urandom | base64 -w0)
    (
        umask 077
        cat >"${path}.tmp" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aesgcm:
          keys:
            - name: key-$(date -u +%Y%m%d%H%M%S)
              secret: ${key}
      - identity: {}
EOF
    )
    mv "${path}.tmp" "${path}"
}

# The flags of server I (0-based).
arktos::apiserver::flags() {
    local i=${1:-0} bind=${API_HOST_IP} port=${API_SECURE_PORT}
    if arktos::apiserver::several; then
        bind=127.0.0.1
        port=$(arktos::apiserver::backend_port "${i}")
    fi
    local flags=(
        --data-dir "${ARKTOS_DATA_DIR}"
        --storage "$(arktos::apiserver::storage_url)"
        --bind-address "${bind}"
        --secure-port "${port}"
        --tls-cert-file "$(arktos::pki::serving_cert)"
        --tls-private-key-file "$(arktos::pki::serving_key)"
        --client-ca-file "$(arktos::pki::ca_cert)"
        --service-account-key-file "$(arktos::pki::sa_public_key)"
        --service-account-signing-key-file "$(arktos::pki::sa_key)"
        --service-account-issuer "${ARKTOS_SERVICE_ACCOUNT_ISSUER}"
        --token-auth-file "$(arktos::pki::token_file)"
        --audit-log-path "$(arktos::apiserver::audit_log_file "${i}")"
        --kubelet-client-certificate "$(arktos::apiserver::kubelet_client_cert)"
        --kubelet-client-key "$(arktos::apiserver::kubelet_client_key)"
        --kubelet-certificate-authority "$(arktos::pki::ca_cert)"
        --advertise-address "$(arktos::apiserver::advertise_address)"
        --service-cluster-ip-range "${SERVICE_CLUSTER_IP_RANGE}"
        --service-node-port-range "${SERVICE_NODE_PORT_RANGE}"
        --network-service-cidr-pool "${NETWORK_SERVICE_CIDR_POOL}"
    )
    # TLS towards an external etcd (upstream's kube-apiserver flags of the same names).
    [[ -z "${ETCD_CAFILE:-}" ]] || flags+=(--etcd-cafile "${ETCD_CAFILE}")
    [[ -z "${ETCD_CERTFILE:-}" ]] || flags+=(--etcd-certfile "${ETCD_CERTFILE}")
    [[ -z "${ETCD_KEYFILE:-}" ]] || flags+=(--etcd-keyfile "${ETCD_KEYFILE}")
    # Request-header authentication (upstream's front proxy): trusted only from the front-proxy CA's
    # CN=front-proxy-client, whose headers then name the user (docs/design/partition-server.md).
    if [[ -f "$(arktos::pki::front_proxy_ca_cert)" ]]; then
        flags+=(--requestheader-client-ca-file "$(arktos::pki::front_proxy_ca_cert)"
            --requestheader-allowed-names front-proxy-client
            --requestheader-username-headers X-Remote-User
            --requestheader-group-headers X-Remote-Group
            --requestheader-extra-headers-prefix X-Remote-Extra-)
    fi
    if [[ -n "$(arktos::apiserver::encryption_config)" ]]; then
        flags+=(--encryption-provider-config "$(arktos::apiserver::encryption_config)")
    fi
    # The server's --port defaults to 0 (no plain listener); it opens one only when asked.
    if arktos::apiserver::insecure_port_enabled; then
        flags+=(--insecure-bind-address "$(arktos::apiserver::bind_address)" --port "${API_PORT}")
    fi
    # A caller's own additions (an array; hack/lib/partitions.sh: request-header authentication,
    # --resource-providers).
    [[ -z "${ARKTOS_APISERVER_EXTRA_ARGS+set}" ]] || flags+=("${ARKTOS_APISERVER_EXTRA_ARGS[@]}")
    printf '%s\n' "${flags[@]}"
}

arktos::apiserver::start() {
    local i
    arktos::apiserver::check_settings
    mkdir -p "${ARKTOS_DATA_DIR}" "${LOG_DIR}"
    arktos::apiserver::ensure_encryption_config
    if ! arktos::apiserver::several; then
        arktos::apiserver::start_one 0
        return 0
    fi
    for ((i = 0; i < APISERVER_COUNT; i++)); do
        arktos::apiserver::start_one "${i}"
    done
    arktos::haproxy::start
}

# Starts server I under its supervisor.
arktos::apiserver::start_one() {
    local i=$1 log_file flags where
    log_file=$(arktos::apiserver::log_file "${i}")
    local port=${API_SECURE_PORT} advertise
    advertise=$(arktos::apiserver::advertise_address)
    if arktos::apiserver::several; then
        port=$(arktos::apiserver::backend_port "${i}")
        where="https://127.0.0.1:${port}"
        arktos::apiserver::check_port_free 127.0.0.1 "${port}" APISERVER_BACKEND_PORT
    else
        where=$(arktos::apiserver::url)
        arktos::apiserver::check_port_free "${API_HOST_IP}" "${API_SECURE_PORT}" API_SECURE_PORT
    fi
    # The server listens on its advertise address too (pods reach it there).
    if arktos::apiserver::several || [[ "${advertise}" != "${API_HOST_IP}" && "${API_HOST_IP}" != 0.0.0.0 ]]; then
        arktos::apiserver::check_port_free "${advertise}" "${port}" API_ADVERTISE_ADDRESS
        where+=" and https://$(arktos::apiserver::url_host "${advertise}"):${port}"
    fi
    if arktos::apiserver::insecure_port_enabled; then
        arktos::apiserver::check_port_free "$(arktos::apiserver::bind_address)" "${API_PORT}" API_PORT
        [[ "$(arktos::apiserver::bind_address)" == "${API_HOST_IP}" ]] ||
            arktos::log::error "API_HOST_IP=${API_HOST_IP} is not loopback; the plain port is for 127.0.0.1 only"
        where+=" and $(arktos::apiserver::insecure_url)"
    fi
    mapfile -t flags < <(arktos::apiserver::flags "${i}")
    arktos::log::status "starting $(arktos::apiserver::name "${i}") on ${where} (storage $(arktos::apiserver::storage_url), log ${log_file})"
    : >"${log_file}"
    arktos::process::supervise "$(arktos::apiserver::name "${i}")" "${log_file}" "${ARKTOS_RESTART_DELAY}" \
        arktos::apiserver::run "${flags[@]}"
}

# The server process itself (foreground; hack/lib/supervisor.sh restarts it with the same flags).
arktos::apiserver::run() {
    cd "${ARKTOS_ROOT}" && exec "${ARKTOS_PYTHON}" -m server "$@"
}

# One GET over TLS as system:admin with a short timeout; curl when the machine has it, else the
# venv's Python. /readyz may be closed to anonymous users, so the probe always authenticates.
arktos::apiserver::probe() {
    local url=$1 ca cert key
    ca=$(arktos::pki::ca_cert)
    cert=$(arktos::pki::admin_cert)
    key=$(arktos::pki::admin_key)
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 2 --cacert "${ca}" --cert "${cert}" --key "${key}" "${url}" >/dev/null 2>&1
    else
        "${ARKTOS_PYTHON}" -c 'import ssl, sys, urllib.request
context = ssl.create_default_context(cafile=sys.argv[2])
context.load_cert_chain(sys.argv[3], sys.argv[4])
urllib.request.urlopen(sys.argv[1], timeout=2, context=context)' "${url}" "${ca}" "${cert}" "${key}" >/dev/null 2>&1
    fi
}

# Polls /readyz until it answers "ok"; fails when the server exits or ARKTOS_READY_TIMEOUT passes.
# With several servers: each one directly, then the load balancer.
arktos::apiserver::wait_ready() {
    local url i pids=()
    if arktos::apiserver::several; then
        for ((i = 0; i < APISERVER_COUNT; i++)); do
            url="https://127.0.0.1:$(arktos::apiserver::backend_port "${i}")/readyz"
            arktos::log::status "waiting for ${url}"
            arktos::process::wait_ready "$(arktos::apiserver::name "${i}")" "${ARKTOS_READY_TIMEOUT}" \
                arktos::apiserver::probe "${url}"
            pids+=("$(arktos::process::pid "$(arktos::apiserver::name "${i}")")")
        done
    fi
    url="$(arktos::apiserver::url)/readyz"
    arktos::log::status "waiting for ${url}"
    if arktos::apiserver::several; then
        arktos::process::wait_ready haproxy "${ARKTOS_READY_TIMEOUT}" arktos::apiserver::probe "${url}"
        ARKTOS_APISERVER_PID="${pids[*]}"
    else
        arktos::process::wait_ready "$(arktos::apiserver::name 0)" "${ARKTOS_READY_TIMEOUT}" \
            arktos::apiserver::probe "${url}"
        ARKTOS_APISERVER_PID=$(arktos::process::pid "$(arktos::apiserver::name 0)")
    fi
    arktos::log::status "${ARKTOS_PARTITION:+${ARKTOS_PARTITION}-}kube-apiserver is ready"
}

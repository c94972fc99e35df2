#!/usr/bin/env bash
# The load balancer in front of APISERVER_COUNT>1 API servers: Debian's HAProxy (installed on first
# use) in TCP mode on API_HOST_IP:API_SECURE_PORT, so TLS passes through untouched and client
# certificates reach the API servers (a TLS-terminating balancer would have to re-authenticate
# the client itself). Upstream documents the same set-up for several kube-apiservers ("Creating
# Highly Available Clusters with kubeadm", HAProxy as the load balancer).
#
# Each server is checked every second with an HTTPS GET /readyz: one that is not ready leaves the
# rotation (its open watches stay; a dead server's connections are reset anyway). While no server
# is ready the running ones (a TLS handshake succeeds) take the connections, so clients still get
# the API's 503/504 Status rather than a connection the balancer closes. A connection refused by a dead server is
# tried again on another one (`option redispatch`).
# Timeouts are an hour: watches are long-lived TCP sessions. HAProxy runs in the foreground under
# a supervisor (hack/lib/supervisor.sh); its config and stats socket are in
# $ARKTOS_DATA_DIR/haproxy, its log in $LOG_DIR/haproxy.log.

arktos::haproxy::dir() { printf '%s/haproxy\n' "${ARKTOS_DATA_DIR}"; }
arktos::haproxy::config() { printf '%s/haproxy.cfg\n' "$(arktos::haproxy::dir)"; }
arktos::haproxy::log_file() { printf '%s/haproxy.log\n' "${LOG_DIR}"; }

arktos::haproxy::ensure_installed() {
    arktos::packages::ensure haproxy haproxy
}

# The config: every API server twice, in a backend checked with /readyz (the servers that can
# serve) and in one checked with a TLS handshake (the servers that run), used only while none is
# ready.
arktos::haproxy::write_config() {
    local dir
    dir=$(arktos::haproxy::dir)
    mkdir -p "${dir}"
    cat >"${dir}/haproxy.cfg.tmp" <<EOF
# Written by hack/arktos-up.sh on every start (hack/lib/haproxy.sh); edits are lost.
global
    log stdout format raw local0 info
    stats socket ${dir}/haproxy.sock mode 600 level admin

defaults
    mode tcp
    log global
    option tcplog
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    default-server check check-ssl verify none crt $(arktos::haproxy::health_check_pem) inter 1s fall 2 rise 1

frontend kube-apiserver
    bind $(arktos::apiserver::url_host "${API_HOST_IP}"):${API_SECURE_PORT}
    use_backend kube-apiservers-ready if { nbsrv(kube-apiservers-ready) gt 0 }
    default_backend kube-apiservers-live

backend kube-apiservers-ready
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
$(arktos::haproxy::server_lines)

# While no server is ready (say the store is down) the running ones (a TLS handshake succeeds)
# still take connections: clients get the servers' 503/504 Status instead of a connection the
# balancer closes.
backend kube-apiservers-live
    balance roundrobin
$(arktos::haproxy::server_lines)
EOF
    haproxy -c -q -f "${dir}/haproxy.cfg.tmp" >/dev/null
    mv "${dir}/haproxy.cfg.tmp" "$(arktos::haproxy::config)"
}

arktos::haproxy::server_lines() {
    local i
    for ((i = 0; i < APISERVER_COUNT; i++)); do
        printf '    server kube-apiserver-%s 127.0.0.1:%s\n' "${i}" "$(arktos::apiserver::backend_port "${i}")"
    done
}

# HAProxy in the foreground (-db): what its supervisor runs.
arktos::haproxy::run() {
    exec haproxy -db -f "$(arktos::haproxy::config)"
}

# The checks authenticate (the secure port refuses anonymous requests): a client certificate of
# its own, CN=system:haproxy-health-check, no group, so it may read no more than /livez, /readyz
# and the like (system:public-info-viewer); HAProxy takes it as one PEM, mode 0600.
arktos::haproxy::health_check_pem() { printf '%s/health-check.pem\n' "$(arktos::haproxy::dir)"; }

arktos::haproxy::ensure_health_check_identity() {
    local pem
    pem=$(arktos::haproxy::health_check_pem)
    arktos::pki::run client-cert --dir "${CERT_DIR}" --name client-haproxy-health-check \
        --common-name system:haproxy-health-check >/dev/null
    mkdir -p "$(arktos::haproxy::dir)"
    (umask 077 && cat "${CERT_DIR}/client-haproxy-health-check.crt" \
        "${CERT_DIR}/client-haproxy-health-check.key" >"${pem}.tmp")
    mv "${pem}.tmp" "${pem}"
}

arktos::haproxy::start() {
    local log_file
    log_file=$(arktos::haproxy::log_file)
    arktos::haproxy::ensure_installed
    arktos::apiserver::check_port_free "${API_HOST_IP}" "${API_SECURE_PORT}" API_SECURE_PORT
    arktos::haproxy::ensure_health_check_identity
    arktos::haproxy::write_config
    arktos::log::status "starting haproxy on $(arktos::apiserver::url) for ${APISERVER_COUNT} API servers (config $(arktos::haproxy::config), log ${log_file})"
    : >"${log_file}"
    arktos::process::supervise haproxy "${log_file}" "${ARKTOS_RESTART_DELAY}" arktos::haproxy::run
}

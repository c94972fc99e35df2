#!/usr/bin/env bash
# Certificates, keys, the static token file and kubeconfigs in CERT_DIR, made by the project's
# Python tooling (`python -m tools.pki`, tools/pki.py, on the pki/ library) instead of openssl/cfssl
# recipes as in upstream's local-up-cluster.sh. Everything is created on first start and reused
# afterwards, so kubeconfigs handed out earlier keep working across restarts.

arktos::pki::run() {
    # cd to the root so `-m tools.pki` resolves to this checkout whatever the caller's directory.
    (cd "${ARKTOS_ROOT}" && "${ARKTOS_PYTHON}" -m tools.pki "$@")
}

arktos::pki::ca_cert() { printf '%s/ca.crt\n' "${CERT_DIR}"; }
arktos::pki::serving_cert() { printf '%s/serving-kube-apiserver.crt\n' "${CERT_DIR}"; }
arktos::pki::serving_key() { printf '%s/serving-kube-apiserver.key\n' "${CERT_DIR}"; }
arktos::pki::sa_key() { printf '%s/sa.key\n' "${CERT_DIR}"; }
arktos::pki::sa_public_key() { printf '%s/sa.pub\n' "${CERT_DIR}"; }
arktos::pki::token_file() { printf '%s/known_tokens.csv\n' "${CERT_DIR}"; }
# The admin identity (CN=system:admin, O=system:masters) as files, for curl and probes.
arktos::pki::admin_cert() { printf '%s/client-admin.crt\n' "${CERT_DIR}"; }
arktos::pki::admin_key() { printf '%s/client-admin.key\n' "${CERT_DIR}"; }
# The front proxy's own CA and client pair (CN=front-proxy-client), as upstream's front-proxy-ca and
# front-proxy-client: the scale-out gateway presents them to the partitions, whose API servers trust
# its X-Remote-User/-Group/-Tenant headers only on a connection with that certificate.
arktos::pki::front_proxy_ca_cert() { printf '%s/front-proxy-ca.crt\n' "${CERT_DIR}"; }
arktos::pki::front_proxy_client_cert() { printf '%s/front-proxy-client.crt\n' "${CERT_DIR}"; }
arktos::pki::front_proxy_client_key() { printf '%s/front-proxy-client.key\n' "${CERT_DIR}"; }

# CA, API serving cert (API_HOST_IP, the advertise address, the first service IP, the first address
# of every /24 of NETWORK_SERVICE_CIDR_POOL (each tenant network's kubernetes-N), 127.0.0.1,
# localhost, kubernetes, kubernetes.default[.svc[.DNS_DOMAIN]]), sa.key/sa.pub,
# the front-proxy CA and client pair, known_tokens.csv with an admin row, and admin/controller/scheduler/kubelet kubeconfigs that
# point at the secure URL. One Python process does it all (start-up stays quick).
arktos::pki::ensure_cluster_credentials() {
    local output line
    arktos::log::status "preparing certificates, keys and kubeconfigs in ${CERT_DIR}"
    if ! output=$(arktos::pki::run cluster \
        --dir "${CERT_DIR}" \
        --server "$(arktos::apiserver::url)" \
        --host "${API_HOST_IP}" \
        --host "$(arktos::apiserver::advertise_address)" \
        --host "$(arktos::apiserver::first_service_ip)" \
        --host "kubernetes.default.svc.${DNS_DOMAIN:-cluster.local}" \
        --network-service-cidr-pool "${NETWORK_SERVICE_CIDR_POOL:-}" \
        --node-name "${HOSTNAME_OVERRIDE}" 2>&1); then
        arktos::log::error "could not prepare credentials in ${CERT_DIR}: ${output}"
        return 1
    fi
    while IFS= read -r line; do
        arktos::log::status "  ${line}"
    done <<<"${output}"
}

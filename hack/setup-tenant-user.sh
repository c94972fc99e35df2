#!/usr/bin/env bash
# Issues a client certificate for a user of a tenant and writes a kubeconfig for it into CERT_DIR
# (Arktos's hack/setup-multi-tenancy tools do the same with openssl). The certificate is signed by
# the cluster CA that hack/arktos-up.sh created, with the subject Arktos reads an identity from:
# CN=USER, O=tenant:TENANT, one OU per GROUP (ARKTOS.md §3).
#
# Usage: hack/setup-tenant-user.sh TENANT USER [GROUP...]
#
# The kubeconfig ($CERT_DIR/TENANT-USER.kubeconfig) has two contexts: `default` (current), at the
# secure URL, where short paths resolve to the user's tenant from its identity; and `prefix`, at
# https://API_HOST_IP:API_SECURE_PORT/tenants/TENANT (kubectl --context prefix). Its path is the
# last line printed. Running it again reuses the certificate unless the groups changed.
#
# Environment: CERT_DIR [/var/run/kubernetes], API_HOST_IP [127.0.0.1], API_SECURE_PORT [6443]
# — the same values arktos-up.sh ran with.
set -euo pipefail

ARKTOS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
source "${ARKTOS_ROOT}/hack/lib/init.sh"

usage() {
    echo "usage: $0 TENANT USER [GROUP...]" >&2
    exit 2
}

# A tenant name is a DNS label (it appears in paths and storage keys); the user name becomes part
# of a file name, so it must not hold '/'; neither may hold a comma or quote (they end up in CSV
# and certificate subjects that other tools parse).
validate_names() {
    local tenant=$1 user=$2
    if ! [[ "${tenant}" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]]; then
        arktos::log::error "tenant '${tenant}' is not a DNS label (lower-case letters, digits, '-')"
        exit 2
    fi
    if ! [[ "${user}" =~ ^[A-Za-z0-9][A-Za-z0-9._@:+=-]*$ ]]; then
        arktos::log::error "user '${user}' may hold only letters, digits and . _ @ : + = -"
        exit 2
    fi
}

main() {
    (($# >= 2)) || usage
    local tenant=$1 user=$2 group file
    shift 2
    validate_names "${tenant}" "${user}"
    if [[ ! -r "$(arktos::pki::ca_cert)" ]]; then
        arktos::log::error "no CA in ${CERT_DIR}: start the cluster with hack/arktos-up.sh first (same CERT_DIR)"
        exit 1
    fi
    file=$(arktos::kubeconfig::tenant_user_path "${tenant}" "${user}")
    local args=(
        kubeconfig --require-ca
        --dir "${CERT_DIR}"
        --out "${file}"
        --server "$(arktos::apiserver::url)"
        --user "${tenant}-${user}"
        --common-name "${user}"
        --org "tenant:${tenant}"
        --prefix-tenant "${tenant}"
    )
    for group in "$@"; do
        args+=(--ou "${group}")
    done
    arktos::pki::run "${args[@]}" >/dev/null
    arktos::log::status "user ${user} of tenant ${tenant}${*:+ (groups: $*)}: context 'default' at" \
        "$(arktos::apiserver::url), context 'prefix' at $(arktos::apiserver::url)/tenants/${tenant}"
    printf '%s\n' "${file}"
}

main "$@"

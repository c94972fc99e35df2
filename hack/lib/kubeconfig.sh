#!/usr/bin/env bash
# Where the kubeconfigs that arktos-up.sh and setup-tenant-user.sh leave in CERT_DIR live. They
# are written by hack/lib/pki.sh (python -m tools.pki) with embedded client certificates:
# admin (CN=system:admin, O=system:masters), controller, scheduler, kubelet, and one per tenant user.

# arktos::kubeconfig::path NAME -> $CERT_DIR/NAME.kubeconfig
arktos::kubeconfig::path() {
    printf '%s/%s.kubeconfig\n' "${CERT_DIR}" "$1"
}

arktos::kubeconfig::admin_path() {
    arktos::kubeconfig::path admin
}

arktos::kubeconfig::controller_path() {
    arktos::kubeconfig::path controller
}

# arktos::kubeconfig::tenant_user_path TENANT USER -> $CERT_DIR/TENANT-USER.kubeconfig
arktos::kubeconfig::tenant_user_path() {
    arktos::kubeconfig::path "$1-$2"
}

#!/usr/bin/env bash
# Writes the kubeconfigs that arktos-up.sh leaves in CERT_DIR. At this stage the API server is
# plain HTTP on loopback with no authentication, so a kubeconfig names only the server and a
# user; the TLS issue adds client certificates (admin: CN=system:admin, O=system:masters) here.

# arktos::kubeconfig::write FILE SERVER_URL USER
arktos::kubeconfig::write() {
    local file=$1 server=$2 user=$3 tmp
    mkdir -p "$(dirname "${file}")"
    tmp=$(mktemp "${file}.XXXXXX")
    cat >"${tmp}" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: local-up-cluster
  cluster:
    server: ${server}
users:
- name: ${user}
  user: {}
contexts:
- name: default
  context:
    cluster: local-up-cluster
    user: ${user}
current-context: default
preferences: {}
KUBECONFIG
    chmod 0600 "${tmp}"
    # Rename so a reader never sees a half-written file.
    mv -f "${tmp}" "${file}"
}

arktos::kubeconfig::admin_path() {
    printf '%s/admin.kubeconfig\n' "${CERT_DIR}"
}

arktos::kubeconfig::write_admin() {
    local server=$1 file
    file=$(arktos::kubeconfig::admin_path)
    arktos::kubeconfig::write "${file}" "${server}" admin
    arktos::log::status "wrote ${file}"
}

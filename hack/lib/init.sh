#!/usr/bin/env bash
# Sourced by every hack/ and cluster/ script: finds the repository root, loads the helper
# libraries and settles the environment variables that arktos-up.sh documents, so each
# component function reads one set of defaults (upstream hack/lib/init.sh plays the same role).

ARKTOS_ROOT=${ARKTOS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
export ARKTOS_ROOT

ARKTOS_VENV=${ARKTOS_VENV:-${ARKTOS_ROOT}/.venv}
ARKTOS_PYTHON=${ARKTOS_PYTHON:-${ARKTOS_VENV}/bin/python}

# Store files (the SQLite database). Under /var/lib so a reboot does not lose the cluster.
ARKTOS_DATA_DIR=${ARKTOS_DATA_DIR:-/var/lib/arktos}
# Certificates, keys, the static token file and kubeconfigs, as upstream's local-up-cluster.sh.
CERT_DIR=${CERT_DIR:-/var/run/kubernetes}
# The address clients reach the server at; the TLS port binds it and its serving cert names it.
API_HOST_IP=${API_HOST_IP:-127.0.0.1}
# TLS port: x509 client certificates, bearer tokens, service-account tokens.
API_SECURE_PORT=${API_SECURE_PORT:-6443}
# The kubelet's HTTPS port (logs, exec, port-forward; the API server proxies to it).
KUBELET_PORT=${KUBELET_PORT:-10250}
KUBELET_RESTART_DELAY=${KUBELET_RESTART_DELAY:-2}
# The qemu VM runtime next to containerd (skipped, with a message, where qemu cannot run).
VM_RUNTIME_ENABLED=${VM_RUNTIME_ENABLED:-true}
# Plain HTTP without authentication (upstream's retired --insecure-port): off unless
# API_INSECURE_PORT_ENABLED=true, and then bound to loopback only on API_PORT.
API_INSECURE_PORT_ENABLED=${API_INSECURE_PORT_ENABLED:-false}
API_PORT=${API_PORT:-8080}
# The node name of this machine's kubelet identity (CN=system:node:<name>), as upstream.
HOSTNAME_OVERRIDE=${HOSTNAME_OVERRIDE:-$( (hostname 2>/dev/null || cat /proc/sys/kernel/hostname) | tr '[:upper:]' '[:lower:]')}
LOG_DIR=${LOG_DIR:-/tmp}
# A running CRI runtime for the kubelet (URL or name,workloadType,url;...); empty starts our containerd.
CONTAINER_RUNTIME_ENDPOINT=${CONTAINER_RUNTIME_ENDPOINT:-}
# Seconds to wait for a component to report ready before giving up.
ARKTOS_READY_TIMEOUT=${ARKTOS_READY_TIMEOUT:-60}

source "${ARKTOS_ROOT}/hack/lib/logging.sh"
source "${ARKTOS_ROOT}/hack/lib/packages.sh"
source "${ARKTOS_ROOT}/hack/lib/process.sh"
source "${ARKTOS_ROOT}/hack/lib/supervisor.sh"
source "${ARKTOS_ROOT}/hack/lib/shutdown.sh"
source "${ARKTOS_ROOT}/hack/lib/kubeconfig.sh"
source "${ARKTOS_ROOT}/hack/lib/pki.sh"
source "${ARKTOS_ROOT}/hack/lib/apiserver.sh"
source "${ARKTOS_ROOT}/hack/lib/etcd.sh"
source "${ARKTOS_ROOT}/hack/lib/haproxy.sh"
source "${ARKTOS_ROOT}/hack/lib/controller_manager.sh"
source "${ARKTOS_ROOT}/hack/lib/scheduler.sh"
PY=${PY:-${ARKTOS_PYTHON}}  # the python hack/lib/containerd.sh renders its config with
source "${ARKTOS_ROOT}/hack/lib/registry.sh"
source "${ARKTOS_ROOT}/hack/lib/containerd.sh"
source "${ARKTOS_ROOT}/hack/lib/vmruntime.sh"
source "${ARKTOS_ROOT}/hack/lib/kubelet.sh"
source "${ARKTOS_ROOT}/hack/lib/proxy.sh"
source "${ARKTOS_ROOT}/hack/lib/up.sh"

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
# Kubeconfigs (and, from the TLS issue on, certificates), as upstream's local-up-cluster.sh.
CERT_DIR=${CERT_DIR:-/var/run/kubernetes}
API_HOST_IP=${API_HOST_IP:-127.0.0.1}
# Plain HTTP, loopback only (upstream's retired --insecure-port): no authentication yet.
API_PORT=${API_PORT:-8080}
# Reserved for the TLS listener (a later issue); nothing binds it yet.
API_SECURE_PORT=${API_SECURE_PORT:-6443}
LOG_DIR=${LOG_DIR:-/tmp}
# Seconds to wait for a component to report ready before giving up.
ARKTOS_READY_TIMEOUT=${ARKTOS_READY_TIMEOUT:-60}

source "${ARKTOS_ROOT}/hack/lib/logging.sh"
source "${ARKTOS_ROOT}/hack/lib/process.sh"
source "${ARKTOS_ROOT}/hack/lib/kubeconfig.sh"
source "${ARKTOS_ROOT}/hack/lib/apiserver.sh"

#!/usr/bin/env bash
# Runs every benchmark on this machine and prints `name: value unit` lines (README quotes them):
# the raw SQLite commit rate (bench/storage_commit_rate.py), then the API figures
# (bench/api_bench.py) with the creates target computed from that raw rate, the overload bench
# (bench/overload_bench.py: one tenant's flood, another tenant's GET latency), then pod start-up
# latency on a real node (bench/pod_startup_bench.py) and hollow-node capacity
# (bench/hollow_capacity_bench.py). Arguments go to api_bench.py only.
# Installs what it needs: the venv (hack/install-deps.sh) and wrk from apt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PY=${ROOT}/.venv/bin/python
cd "${ROOT}"

[[ -x "${PY}" ]] || bash hack/install-deps.sh
if ! command -v wrk >/dev/null 2>&1; then
    echo "# installing wrk (apt)"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

raw_rate=""
if [[ -f bench/storage_commit_rate.py ]]; then
    storage_out=$("${PY}" bench/storage_commit_rate.py) || echo "# bench/storage_commit_rate.py failed"
    printf '%s\n' "${storage_out}"
    # The `raw_...commit...: N unit` line is the raw rate, e.g. `raw_sqlite_single_row_commits: 25000 commits/s`.
    raw_rate=$(printf '%s\n' "${storage_out}" | awk -F': *' '/^raw_.*commit/ && $2 ~ /^[0-9.]+/ {split($2, v, " "); print v[1]; exit}')
else
    echo "# bench/storage_commit_rate.py not present: creates target shown without the raw rate"
fi

"${PY}" bench/api_bench.py ${raw_rate:+--raw-commit-rate "${raw_rate}"} "$@"

# One tenant's flood (500 concurrent LISTs of a 2 MB namespace + 200 watches) against another
# tenant's GETs, with and without API Priority and Fairness; a TLS server on the first core.
"${PY}" bench/overload_bench.py || echo "# bench/overload_bench.py failed"

# A real single node from hack/arktos-up.sh (needs root: containerd, a bridge). Not pinned: a
# node's kubelet, containerd and runc use every core; the script stops the cluster with Ctrl-C.
"${PY}" bench/pod_startup_bench.py || echo "# bench/pod_startup_bench.py failed"
"${PY}" bench/vm_pod_bench.py || echo "# bench/vm_pod_bench.py failed"  # VM pods (qemu, TCG) on the same kind of node

# The API server on the first core, the hollow kubelets and the latency probe on the other
# (bench/server_process.py pins them, as for api_bench.py). Takes tens of minutes at 5,000 nodes.
"${PY}" bench/hollow_capacity_bench.py || echo "# bench/hollow_capacity_bench.py failed"

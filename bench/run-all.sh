#!/usr/bin/env bash
# Runs every benchmark on this machine, one step after another, and ends with a summary of every
# figure of the run (bench/summary.py: date, machine, load average, the issue's headline ratios,
# each step's `name: value unit [target ...]` lines), so the README's figure table comes from one
# run. Steps, in order:
#   hot_paths     in-process costs: protobuf decode, RBAC, tables, validation, YAML bomb
#   storage       the raw SQLite commit rate and the SQLite backend (bench/storage_commit_rate.py)
#   etcd_storage  raw etcd puts and the etcd backend's creates at 64 in flight (bench/etcd_put_rate.py;
#                 starts its own etcd member, apt's etcd-server when missing)
#   api           creates (and their ratio to the raw rate), GETs (and their ratio to a bare
#                 aiohttp+uvloop handler, bench/bare_aiohttp.py), LISTs, watch fan-out
#   api_etcd      the same on etcd (one server), then creates through two servers behind HAProxy
#   overload      one tenant's flood against another tenant's GETs, fairness on and off
#   encryption    encryption at rest per stored value
#   scheduler     pods bound per second, 5,000 nodes and 10,000 pods
#   deployment    a 1,000-replica Deployment created, bound, ready (fake kubelet)
#   pod_startup_paced, pod_startup_burst, vm_pod   a real arktos-up node (root: containerd, qemu,
#                 bridge arktos-pb0, pod subnet 10.92.0.0/16)
#   services      from pods on that node: DNS queries/s and p99, HTTP via a Service IP vs the pod IP
#   networks      pod->pod and pod->Service latency in a tenant network, isolation on vs off (two
#                 clusters), and the node's iptables rules for 100 tenants x 10 Services
#   vm_sandbox    VM boot with and without qemu's -sandbox
#   proxy         kube-proxy sync time and iptables rule count, 1,000 Services x 10 endpoints
#   isolation     the same with network isolation: 100 tenants x 10 Services x 3 pods, on and off
#   dns           the cluster DNS server alone: queries/s, p50/p99, zone update, memory (1,000 Services)
#   hollow_capacity   hollow nodes one control plane holds (tens of minutes at 5,000 nodes)
#   scale_out     hollow nodes 2 resource partitions hold, pods/s of 2 tenant partitions vs 1
# The API servers are pinned to the first core and load generators to the others
# (bench/server_process.py). Arguments go to api_bench.py only.
#
# Environment: BENCH_ONLY   space-separated step names to run (default: all)
#              BENCH_SKIP   space-separated step names to leave out
#              BENCH_LOG    where the run's log goes [a new file under /tmp]
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

LOG=${BENCH_LOG:-$(mktemp /tmp/arktos-bench-XXXXXX.log)}
: >"${LOG}"

selected() {
    local name=$1
    if [[ -n "${BENCH_ONLY:-}" && " ${BENCH_ONLY} " != *" ${name} "* ]]; then
        return 1
    fi
    [[ " ${BENCH_SKIP:-} " != *" ${name} "* ]]
}

# step NAME COMMAND...: runs one benchmark, its output to the terminal and the log; a failing
# step is noted and the run goes on.
step() {
    local name=$1
    shift
    if ! selected "${name}"; then
        echo "# step ${name} skipped (BENCH_ONLY/BENCH_SKIP)" | tee -a "${LOG}"
        return 0
    fi
    echo "## step ${name}: $*" | tee -a "${LOG}"
    if ! "$@" 2>&1 | tee -a "${LOG}"; then
        echo "# step ${name} failed" | tee -a "${LOG}"
    fi
}

echo "# loadavg_start: $(cat /proc/loadavg)" | tee -a "${LOG}"
step hot_paths "${PY}" bench/hot_paths_bench.py
step storage "${PY}" bench/storage_commit_rate.py
step etcd_storage "${PY}" bench/etcd_put_rate.py
# The `raw_...commit...: N unit` line is the raw rate, e.g. `raw_sqlite_single_row_commits: 25000 commits/s`.
raw_rate=$(awk -F': *' '/^raw_.*commit/ && $2 ~ /^[0-9.]+/ {split($2, v, " "); print v[1]; exit}' "${LOG}")
step api "${PY}" bench/api_bench.py ${raw_rate:+--raw-commit-rate "${raw_rate}"} "$@"
# The same figures on etcd, creates against the raw etcd put rate at the API's 64 in flight, then
# two servers behind HAProxy (bench/etcd_servers.py prints the CPU split).
etcd_rate=$(awk -F': *' '/^raw_etcd_puts_64_writers:/ {split($2, v, " "); print v[1]; exit}' "${LOG}")
step api_etcd "${PY}" bench/api_bench.py --storage etcd ${etcd_rate:+--raw-commit-rate "${etcd_rate}"} "$@"
step overload "${PY}" bench/overload_bench.py
step encryption "${PY}" bench/encryption_bench.py
step scheduler "${PY}" bench/scheduler_bench.py
step deployment "${PY}" bench/deployment_bench.py
# A real single node from hack/arktos-up.sh (needs root: containerd, a bridge). Not pinned: a
# node's kubelet, containerd and runc use every core; the script stops the cluster with Ctrl-C.
step pod_startup_paced "${PY}" bench/pod_startup_bench.py --qps 4
step pod_startup_burst "${PY}" bench/pod_startup_bench.py
step vm_pod "${PY}" bench/vm_pod_bench.py  # VM pods (qemu, TCG) on the same kind of node
step services "${PY}" bench/service_bench.py  # DNS and Service latency from pods, same kind of node
step networks "${PY}" bench/network_bench.py  # tenant-network isolation's latency and rules, same kind of node
step vm_sandbox "${PY}" bench/vm_sandbox_bench.py
# kube-proxy's syncs for 1,000 Services x 10 endpoints, real iptables in a throwaway netns (root).
step proxy "${PY}" bench/proxy_bench.py
step isolation "${PY}" bench/isolation_bench.py  # the isolation chains' rules and syncs, same netns way
step dns "${PY}" bench/dns_bench.py  # python -m clusterdns on loopback against a real API server
# The API server on the first core, the hollow kubelets and the latency probe on the other.
step hollow_capacity "${PY}" bench/hollow_capacity_bench.py
# Issue 13: hollow nodes across 2 resource partitions (an hour or more at 15,000+ nodes), then pods
# bound per second by two tenant partitions' schedulers against one's. Nothing pinned.
step scale_out "${PY}" bench/scale_out_bench.py
echo "# loadavg_end: $(cat /proc/loadavg)" | tee -a "${LOG}"

"${PY}" bench/summary.py "${LOG}"
echo "# the whole run's output: ${LOG}"

#!/usr/bin/env bash
# Runs every benchmark on this machine and prints `name: value unit` lines (README quotes them):
# the raw SQLite commit rate (bench/storage_commit_rate.py), then the API figures
# (bench/api_bench.py) with the creates target computed from that raw rate.
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

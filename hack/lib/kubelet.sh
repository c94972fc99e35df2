#!/usr/bin/env bash
# The node half of arktos-up.sh: a private containerd (hack/lib/containerd.sh) and the kubelet
# (python -m kubelet) with its own identity (kubelet.kubeconfig: CN=system:node:<HOSTNAME_OVERRIDE>,
# O=system:nodes, held to its own Node and pods by the node authorizer), as upstream's
# local-up-cluster starts a kubelet last and waits for its Node.
#
# CONTAINER_RUNTIME_ENDPOINT, when set, names a runtime already running (a URL, or Arktos's
# name,workloadType,url;... list) and no containerd is started.

arktos::kubelet::available() {
    [[ -f "${ARKTOS_ROOT}/kubelet/__main__.py" ]]
}

arktos::kubelet::log_file() {
    printf '%s/kubelet.log\n' "${LOG_DIR}"
}

arktos::kubelet::containerd_dir() {
    printf '%s/containerd\n' "${ARKTOS_DATA_DIR}"
}

arktos::kubelet::containerd_log_file() {
    printf '%s/containerd.log\n' "${LOG_DIR}"
}

# Starts containerd in ${ARKTOS_DATA_DIR}/containerd (installing it and importing the busybox and pause
# images on first use) and tracks it, unless CONTAINER_RUNTIME_ENDPOINT names another runtime.
arktos::kubelet::start_containerd() {
    local dir log_file
    if [[ -n "${CONTAINER_RUNTIME_ENDPOINT:-}" ]]; then
        arktos::log::status "using container runtime ${CONTAINER_RUNTIME_ENDPOINT}; no containerd started"
        return 0
    fi
    dir=$(arktos::kubelet::containerd_dir)
    log_file=$(arktos::kubelet::containerd_log_file)
    mkdir -p "${dir}"
    # containerd.sh logs to DIR/containerd.log; point that at LOG_DIR so every component log sits together.
    if [[ "$(readlink -f "${dir}/containerd.log" 2>/dev/null)" != "$(readlink -f "${log_file}")" ]]; then
        rm -f "${dir}/containerd.log"
        : >>"${log_file}"
        ln -s "${log_file}" "${dir}/containerd.log"
    fi
    arktos::log::status "starting containerd (root ${dir}, log ${log_file})"
    # A containerd left behind by a killed run would hold the socket; clear it first.
    containerd::down "${dir}" 2>/dev/null || true
    ARKTOS_CONTAINERD_DIR=${dir}
    if ! containerd::up "${dir}" >>"${log_file}" 2>&1; then
        arktos::log::error "containerd did not come up"
        arktos::log::tail_file "${log_file}"
        return 1
    fi
    ARKTOS_CONTAINERD_PID=$(cat "${dir}/containerd.pid")
    arktos::process::track containerd "${ARKTOS_CONTAINERD_PID}" "${log_file}"
    arktos::log::status "containerd is ready at $(containerd::endpoint "${dir}")"
}

# Runs after every tracked daemon stopped: containerd's shims outlive it by design, so stop them (and
# with them the pods' containers), their mounts and the bridge; the pods' memory-backed volumes go
# with them.
arktos::kubelet::stop_containerd() {
    [[ -n "${ARKTOS_CONTAINERD_DIR:-}" ]] || return 0
    arktos::log::status "stopping containerd shims and pod containers"
    containerd::down "${ARKTOS_CONTAINERD_DIR}" 2>/dev/null || true
    ARKTOS_CONTAINERD_DIR=
    arktos::kubelet::unmount_pod_volumes
}

# The kubelet mounts a tmpfs for every secret, downwardAPI and projected volume and for emptyDir
# medium Memory (under ${ARKTOS_DATA_DIR}/kubelet/pods); a running kubelet unmounts them with their
# pods. Once the pods are gone with containerd, nothing may stay mounted (deepest first).
arktos::kubelet::unmount_pod_volumes() {
    local dir
    dir=$(readlink -f "${ARKTOS_DATA_DIR}/kubelet/pods" 2>/dev/null) || return 0
    [[ -d "${dir}" ]] || return 0
    grep -o " ${dir}/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do
        umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || true
    done
}

arktos::kubelet::runtime_endpoint() {
    local endpoints
    if [[ -n "${CONTAINER_RUNTIME_ENDPOINT:-}" ]]; then
        printf '%s\n' "${CONTAINER_RUNTIME_ENDPOINT}"
        return 0
    fi
    endpoints="containerRuntime,container,$(containerd::endpoint "$(arktos::kubelet::containerd_dir)")"
    if [[ -n "${ARKTOS_VMRUNTIME_DIR:-}" ]]; then
        endpoints+=";vmRuntime,vm,$(arktos::vmruntime::endpoint "${ARKTOS_VMRUNTIME_DIR}")"
    fi
    printf '%s\n' "${endpoints}"
}

# The qemu VM runtime (hack/lib/vmruntime.sh) in ${ARKTOS_DATA_DIR}/vmruntime, log
# ${LOG_DIR}/vmruntime.log, next to containerd; skipped (the node then reports VmRuntimeReady=False)
# when VM_RUNTIME_ENABLED=false, when CONTAINER_RUNTIME_ENDPOINT names the runtimes, or where qemu
# cannot run.
arktos::kubelet::start_vmruntime() {
    local dir log_file
    ARKTOS_VMRUNTIME_DIR=
    if [[ -n "${CONTAINER_RUNTIME_ENDPOINT:-}" || "${VM_RUNTIME_ENABLED}" != "true" ]]; then
        arktos::log::status "no VM runtime started (VM_RUNTIME_ENABLED=${VM_RUNTIME_ENABLED}${CONTAINER_RUNTIME_ENDPOINT:+, CONTAINER_RUNTIME_ENDPOINT set}); VM pods will stay Pending"
        return 0
    fi
    if ! arktos::vmruntime::available; then
        arktos::log::status "qemu cannot run on this machine: no VM runtime started; the node reports VmRuntimeReady=False and VM pods stay Pending"
        return 0
    fi
    dir="${ARKTOS_DATA_DIR}/vmruntime"
    log_file="${LOG_DIR}/vmruntime.log"
    arktos::log::status "starting the VM runtime (qemu, root ${dir}, log ${log_file}); the first start builds the VM image"
    arktos::vmruntime::stop "${dir}" 2>/dev/null || true  # one left behind by a killed run
    if ! PY=${ARKTOS_PYTHON} arktos::vmruntime::start "${dir}" "${log_file}" 2>>"${log_file}"; then
        arktos::log::error "the VM runtime did not come up"
        arktos::log::tail_file "${log_file}"
        return 1
    fi
    ARKTOS_VMRUNTIME_DIR=${dir}
    arktos::process::track vmruntime "$(cat "${dir}/vmruntime.pid")" "${log_file}"
    arktos::log::status "VM runtime is ready at $(arktos::vmruntime::endpoint "${dir}")"
}

arktos::kubelet::stop_vmruntime() {
    [[ -n "${ARKTOS_VMRUNTIME_DIR:-}" ]] || return 0
    arktos::vmruntime::stop "${ARKTOS_VMRUNTIME_DIR}" 2>/dev/null || true
    ARKTOS_VMRUNTIME_DIR=
}

# The kubelet's serving pair for its logs/exec/port-forward port (SANs: node name, 127.0.0.1, the
# host's primary IP), made by tools.pki; the API server checks it against the cluster CA. The kubelet
# authenticates callers by client certificates from that CA or by tokens (TokenReview) and authorizes
# every request with a SubjectAccessReview (upstream's webhook mode, its default here).
arktos::kubelet::serving_cert() { printf '%s/serving-kubelet.crt\n' "${CERT_DIR}"; }
arktos::kubelet::serving_key() { printf '%s/serving-kubelet.key\n' "${CERT_DIR}"; }

# The kubelet process itself (foreground): the node identity, its runtimes, its streaming port.
arktos::kubelet::run() {
    cd "${ARKTOS_ROOT}" && exec "${ARKTOS_PYTHON}" -m kubelet --kubeconfig "$(arktos::kubeconfig::path kubelet)" \
        --hostname-override "${HOSTNAME_OVERRIDE}" --container-runtime-endpoint "$1" \
        --pod-log-dir "${ARKTOS_DATA_DIR}/pods" --root-dir "${ARKTOS_DATA_DIR}/kubelet" \
        --port "${KUBELET_PORT}" \
        --tls-cert-file "$(arktos::kubelet::serving_cert)" \
        --tls-private-key-file "$(arktos::kubelet::serving_key)" \
        --client-ca-file "$(arktos::pki::ca_cert)"
}

# Keeps the kubelet running as systemd's Restart=always does on real nodes: a kubelet that exits
# or is killed is started again (it adopts the running pods from the runtime). TERM/INT stop the
# current kubelet and the supervisor.
arktos::kubelet::supervise() {
    local endpoint=$1 log_file=$2 child="" status
    trap '[[ -z "${child}" ]] || kill -TERM "${child}" 2>/dev/null; wait "${child}" 2>/dev/null; exit 0' TERM INT
    while true; do
        arktos::kubelet::run "${endpoint}" >>"${log_file}" 2>&1 &
        child=$!
        status=0
        wait "${child}" || status=$?
        arktos::log::status "kubelet exited with status ${status}; restarting kubelet in ${KUBELET_RESTART_DELAY}s"
        sleep "${KUBELET_RESTART_DELAY}"
    done
}

arktos::kubelet::start() {
    local log_file endpoint
    log_file=$(arktos::kubelet::log_file)
    endpoint=$(arktos::kubelet::runtime_endpoint)
    mkdir -p "${ARKTOS_DATA_DIR}/pods" "${ARKTOS_DATA_DIR}/kubelet"
    : >"${log_file}"
    arktos::log::status "starting kubelet for node ${HOSTNAME_OVERRIDE} (runtime ${endpoint}, port ${KUBELET_PORT}, log ${log_file})"
    arktos::kubelet::supervise "${endpoint}" "${log_file}" &
    arktos::process::track kubelet "$!" "${log_file}"
    ARKTOS_KUBELET_PID=$!
}

# True when the Node's Ready condition is True (asked as system:admin, through the venv's Python).
arktos::kubelet::node_ready() {
    "${ARKTOS_PYTHON}" -c 'import json, ssl, sys, urllib.request
context = ssl.create_default_context(cafile=sys.argv[2])
context.load_cert_chain(sys.argv[3], sys.argv[4])
node = json.load(urllib.request.urlopen(sys.argv[1], timeout=2, context=context))
ready = [c for c in node.get("status", {}).get("conditions", []) if c.get("type") == "Ready"]
sys.exit(0 if ready and ready[0].get("status") == "True" else 1)' \
        "$(arktos::apiserver::url)/api/v1/nodes/${HOSTNAME_OVERRIDE}" "$(arktos::pki::ca_cert)" \
        "$(arktos::pki::admin_cert)" "$(arktos::pki::admin_key)" >/dev/null 2>&1
}

arktos::kubelet::wait_node_ready() {
    local deadline=$((SECONDS + ARKTOS_READY_TIMEOUT))
    arktos::log::status "waiting for node ${HOSTNAME_OVERRIDE} to be Ready"
    until arktos::kubelet::node_ready; do
        if ! arktos::process::alive "${ARKTOS_KUBELET_PID}"; then
            arktos::log::error "kubelet exited during start-up"
            arktos::log::tail_file "$(arktos::kubelet::log_file)"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            arktos::log::error "node ${HOSTNAME_OVERRIDE} not Ready after ${ARKTOS_READY_TIMEOUT}s"
            arktos::log::tail_file "$(arktos::kubelet::log_file)"
            return 1
        fi
        sleep 0.3
    done
    arktos::log::status "node ${HOSTNAME_OVERRIDE} is Ready"
}

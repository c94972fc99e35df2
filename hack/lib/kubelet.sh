#!/usr/bin/env bash
# The node half of arktos-up.sh: a private containerd (hack/lib/containerd.sh) and the kubelet
# (python -m kubelet) with its own identity (kubelet.kubeconfig: CN=system:node:<HOSTNAME_OVERRIDE>,
# O=system:nodes, held to its own Node and pods by the node authorizer), as upstream's
# local-up-cluster starts a kubelet last and waits for its Node.
#
# CONTAINER_RUNTIME_ENDPOINT, when set, names a runtime already running (a URL, or Arktos's
# name,workloadType,url;... list) and no containerd is started.
#
# Scale-out (hack/arktos-up-scale-out.sh): KUBELET_KUBECONFIG [$CERT_DIR/kubelet.kubeconfig] is the
# node's own server (its resource partition: Node, Lease, the reviews of the kubelet's port);
# KUBELET_TENANT_SERVER_KUBECONFIG [empty] is passed as --tenant-server-kubeconfig, the comma-separated
# kubeconfigs of the tenant partitions whose pods the node runs (empty: the KUBELET_KUBECONFIG server).
#
# Pods' DNS: DNS_SERVER_IP and DNS_DOMAIN (defaults in hack/lib/addons.sh, with the cluster DNS
# add-on they describe) become --cluster-dns and --cluster-domain; unset, ClusterFirst pods get the
# node's resolver (with upstream's MissingClusterDNS event).

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

# Remembers a runtime's directory in ARKTOS_RUN_DIR, so that a stop from another process (the
# reaper, hack/lib/shutdown.sh) finds what to clean up: arktos::kubelet::note_dir NAME [DIR]
arktos::kubelet::note_dir() {
    if [[ -n "${2:-}" ]]; then
        printf '%s\n' "$2" >"${ARKTOS_RUN_DIR}/$1.dir"
    else
        rm -f "${ARKTOS_RUN_DIR}/$1.dir"
    fi
}

arktos::kubelet::noted_dir() {
    cat "${ARKTOS_RUN_DIR}/$1.dir" 2>/dev/null || true
}

# Starts containerd in ${ARKTOS_DATA_DIR}/containerd under a supervisor (installing it on first use;
# it pulls from CONTAINERD_REGISTRY, hack/lib/registry.sh), unless CONTAINER_RUNTIME_ENDPOINT names another runtime.
# A containerd that exits is started again; its shims and the pods' containers keep running and the
# new one reconnects to them (upstream's containerd.service: Restart=always, KillMode=process).
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
    arktos::kubelet::note_dir containerd "${dir}"
    if ! containerd::prepare "${dir}" >>"${log_file}" 2>&1; then
        arktos::log::error "containerd could not be installed or configured"
        arktos::log::tail_file "${log_file}"
        return 1
    fi
    arktos::process::supervise containerd "${log_file}" "${ARKTOS_RESTART_DELAY}" containerd::run "${dir}"
    arktos::process::wait_ready containerd "${CONTAINERD_READY_TIMEOUT:-20}" containerd::answers "${dir}"
    arktos::log::status "containerd is ready at $(containerd::endpoint "${dir}")"
}

# Runs after every supervised daemon stopped: containerd's shims outlive it by design, so stop them
# (and with them the pods' containers), their mounts and the bridge; the pods' memory-backed volumes
# go with them.
arktos::kubelet::stop_containerd() {
    local dir=${ARKTOS_CONTAINERD_DIR:-$(arktos::kubelet::noted_dir containerd)}
    [[ -n "${dir}" ]] || return 0
    arktos::log::status "stopping containerd shims and pod containers"
    containerd::down "${dir}" 2>/dev/null || true
    ARKTOS_CONTAINERD_DIR=
    arktos::kubelet::note_dir containerd
    arktos::kubelet::unmount_pod_volumes
}

# The kubelet mounts a tmpfs for every secret, downwardAPI and projected volume and for emptyDir
# medium Memory (under ${ARKTOS_DATA_DIR}/kubelet/pods); a running kubelet unmounts them with their
# pods. Once the pods are gone with containerd, nothing may stay mounted (deepest first).
arktos::kubelet::unmount_pod_volumes() {
    local dir
    dir=$(readlink -f "${ARKTOS_DATA_DIR}/kubelet/pods" 2>/dev/null) || return 0
    [[ -d "${dir}" ]] || return 0
    # grep finds nothing once the kubelet unmounted them itself: not a failure (pipefail).
    { grep -o " ${dir}/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do
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
# ${LOG_DIR}/vmruntime.log, next to containerd and on its CNI network (VM pods get pod IPs); skipped (the node then reports VmRuntimeReady=False)
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
    arktos::kubelet::note_dir vmruntime "${dir}"
    if ! arktos::vmruntime::prepare "${dir}" 2>>"${log_file}"; then
        arktos::log::error "qemu or the VM image could not be installed"
        arktos::log::tail_file "${log_file}"
        return 1
    fi
    # VM pods on containerd's CNI network (same bridge, same host-local pool): cri/containerd_config.py
    # writes the conflist to <containerd dir>/cni/net.d.
    arktos::process::supervise vmruntime "${log_file}" "${ARKTOS_RESTART_DELAY}" arktos::vmruntime::run "${dir}" \
        "$(arktos::kubelet::containerd_dir)/cni/net.d"
    arktos::process::wait_ready vmruntime "${VMRUNTIME_READY_TIMEOUT:-30}" arktos::vmruntime::listening "${dir}"
    ARKTOS_VMRUNTIME_DIR=${dir}
    arktos::log::status "VM runtime is ready at $(arktos::vmruntime::endpoint "${dir}")"
}

# After the runtime itself stopped (SIGTERM stops its VMs): any VM or shim still left.
arktos::kubelet::stop_vmruntime() {
    local dir=${ARKTOS_VMRUNTIME_DIR:-$(arktos::kubelet::noted_dir vmruntime)}
    [[ -n "${dir}" ]] || return 0
    arktos::vmruntime::stop "${dir}" 2>/dev/null || true
    ARKTOS_VMRUNTIME_DIR=
    arktos::kubelet::note_dir vmruntime
}

# The kubelet's serving pair for its logs/exec/port-forward port (SANs: node name, 127.0.0.1, the
# host's primary IP), made by tools.pki; the API server checks it against the cluster CA. The kubelet
# authenticates callers by client certificates from that CA or by tokens (TokenReview) and authorizes
# every request with a SubjectAccessReview (upstream's webhook mode, its default here).
arktos::kubelet::serving_cert() { printf '%s/serving-kubelet.crt\n' "${CERT_DIR}"; }
arktos::kubelet::serving_key() { printf '%s/serving-kubelet.key\n' "${CERT_DIR}"; }

# The kubelet process itself (foreground): the node identity, its runtimes, its streaming port.
arktos::kubelet::run() {
    cd "${ARKTOS_ROOT}" && exec "${ARKTOS_PYTHON}" -m kubelet \
        --kubeconfig "${KUBELET_KUBECONFIG:-$(arktos::kubeconfig::path kubelet)}" \
        --tenant-server-kubeconfig "${KUBELET_TENANT_SERVER_KUBECONFIG:-}" \
        --hostname-override "${HOSTNAME_OVERRIDE}" --container-runtime-endpoint "$1" \
        --pod-log-dir "${ARKTOS_DATA_DIR}/pods" --root-dir "${ARKTOS_DATA_DIR}/kubelet" \
        --port "${KUBELET_PORT}" \
        --cluster-dns "${DNS_SERVER_IP:-}" --cluster-domain "${DNS_DOMAIN:-}" \
        --tls-cert-file "$(arktos::kubelet::serving_cert)" \
        --tls-private-key-file "$(arktos::kubelet::serving_key)" \
        --client-ca-file "$(arktos::pki::ca_cert)"
}

# The kubelet runs under a supervisor, as systemd's Restart=always keeps it on real nodes: a kubelet
# that exits or is killed is started again after KUBELET_RESTART_DELAY and adopts the running pods
# from the runtime.
arktos::kubelet::start() {
    local log_file endpoint
    log_file=$(arktos::kubelet::log_file)
    endpoint=$(arktos::kubelet::runtime_endpoint)
    mkdir -p "${ARKTOS_DATA_DIR}/pods" "${ARKTOS_DATA_DIR}/kubelet"
    : >"${log_file}"
    arktos::log::status "starting kubelet for node ${HOSTNAME_OVERRIDE} (runtime ${endpoint}, port ${KUBELET_PORT}, log ${log_file})"
    arktos::process::supervise kubelet "${log_file}" "${KUBELET_RESTART_DELAY}" arktos::kubelet::run "${endpoint}"
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
    arktos::log::status "waiting for node ${HOSTNAME_OVERRIDE} to be Ready"
    arktos::process::wait_ready kubelet "${ARKTOS_READY_TIMEOUT}" arktos::kubelet::node_ready
    arktos::log::status "node ${HOSTNAME_OVERRIDE} is Ready"
}

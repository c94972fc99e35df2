#!/usr/bin/env bash
# The image registry the node pulls from, without systemd: Debian's docker-registry (Distribution
# 2.8, installed on first use) under a supervisor, filesystem storage in $ARKTOS_DATA_DIR/registry,
# plain HTTP on 127.0.0.1:$REGISTRY_PORT; then hack/build-images.sh's images (built from Debian
# packages, cached in ${XDG_CACHE_HOME:-~/.cache}/arktos/images) are pushed to it. containerd's
# hosts.toml (cri/containerd_config.py) makes it the registry for docker.io, registry.k8s.io, gcr.io,
# quay.io and ghcr.io. With REGISTRY=host:port nothing is started: the images are pushed there.
#
# Variables: REGISTRY (host:port of a running registry) [empty: start one], REGISTRY_PORT [5000].
# Sets CONTAINERD_REGISTRY (hack/lib/containerd.sh gives it to containerd as the mirror).

REGISTRY=${REGISTRY:-}
REGISTRY_PORT=${REGISTRY_PORT:-5000}
CONTAINERD_REGISTRY=${CONTAINERD_REGISTRY:-${REGISTRY:-127.0.0.1:${REGISTRY_PORT}}}

arktos::registry::address() { printf '%s\n' "${REGISTRY:-127.0.0.1:${REGISTRY_PORT}}"; }
arktos::registry::dir() { printf '%s/registry\n' "${ARKTOS_DATA_DIR}"; }
arktos::registry::log_file() { printf '%s/registry.log\n' "${LOG_DIR}"; }

# The registry process itself (foreground; its supervisor starts it again on the same storage).
arktos::registry::run() {
    exec docker-registry serve "$(arktos::registry::dir)/config.yml"
}

# GET /v2/ answers 200: the API version check every registry client starts with.
arktos::registry::answers() {
    "${ARKTOS_PYTHON}" -c 'import sys, urllib.request
urllib.request.urlopen(f"http://{sys.argv[1]}/v2/", timeout=2).read()' "$(arktos::registry::address)" 2>/dev/null
}

# Build the images (cached) and push them: what hack/build-images.sh does.
arktos::registry::push_images() {
    (cd "${ARKTOS_ROOT}" && "${ARKTOS_PYTHON}" -m cri.images --push "$(arktos::registry::address)")
}

# Starts the registry unless REGISTRY names one, then pushes the node's images to it.
arktos::registry::start() {
    local address dir log_file
    address=$(arktos::registry::address)
    log_file=$(arktos::registry::log_file)
    if [[ -n "${REGISTRY}" ]]; then
        arktos::log::status "using the image registry at ${REGISTRY} (REGISTRY)"
    else
        dir=$(arktos::registry::dir)
        arktos::packages::ensure docker-registry docker-registry
        arktos::apiserver::check_port_free 127.0.0.1 "${REGISTRY_PORT}" REGISTRY_PORT
        mkdir -p "${dir}"
        (cd "${ARKTOS_ROOT}" && "${ARKTOS_PYTHON}" -m cri.registry "${dir}" "${address}") >/dev/null
        arktos::log::status "starting the image registry on ${address} (storage ${dir}/storage, log ${log_file})"
        : >>"${log_file}"
        arktos::process::supervise registry "${log_file}" "${ARKTOS_RESTART_DELAY}" arktos::registry::run
        arktos::process::wait_ready registry "${ARKTOS_READY_TIMEOUT}" arktos::registry::answers
    fi
    arktos::log::status "building and pushing images to ${address} (first build on a machine: ~20s)"
    if ! arktos::registry::push_images >>"${log_file}" 2>&1; then
        arktos::log::error "building or pushing the images failed"
        arktos::log::tail_file "${log_file}"
        return 1
    fi
}

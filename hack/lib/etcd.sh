#!/usr/bin/env bash
# The etcd the API servers store into when STORAGE_BACKEND=etcd, without systemd: Debian's
# etcd-server (installed on first use), ETCD_MEMBERS members on loopback, each under a supervisor
# (hack/lib/supervisor.sh restarts a member that exits, on the same data directory, so it rejoins
# its cluster), as upstream's hack/local-up-cluster.sh starts one etcd before kube-apiserver
# (hack/lib/etcd.sh there). With ETCD_SERVERS set nothing is started: the API servers use that
# cluster as it is (upstream's --etcd-servers).
#
# Member i (0-based) serves clients on 127.0.0.1:ETCD_CLIENT_PORT+2i and its peers on the port
# after that (the defaults give upstream's 2379/2380 to a single member). One member keeps its
# data in $ARKTOS_DATA_DIR/etcd and logs to $LOG_DIR/etcd.log; of several, member i uses
# $ARKTOS_DATA_DIR/etcd/etcd-i and $LOG_DIR/etcd-i.log. A data directory made for one member
# count must be reused with the same count (etcd keeps its membership in it).

ETCD_MEMBERS=${ETCD_MEMBERS:-1}
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-2379}
ETCD_SERVERS=${ETCD_SERVERS:-}
ETCD_RESTART_DELAY=${ETCD_RESTART_DELAY:-${ARKTOS_RESTART_DELAY:-1}}

arktos::etcd::external() {
    [[ -n "${ETCD_SERVERS}" ]]
}

# The supervised name of member I: "etcd" alone, "etcd-I" among several; a partition's
# (ARKTOS_PARTITION, hack/lib/partitions.sh) carry its name first: tp0-etcd.
arktos::etcd::name() {
    local prefix=${ARKTOS_PARTITION:+${ARKTOS_PARTITION}-}
    if ((ETCD_MEMBERS == 1)); then printf '%setcd\n' "${prefix}"; else printf '%setcd-%s\n' "${prefix}" "$1"; fi
}

arktos::etcd::client_port() { printf '%s\n' "$((ETCD_CLIENT_PORT + 2 * $1))"; }
arktos::etcd::peer_port() { printf '%s\n' "$((ETCD_CLIENT_PORT + 2 * $1 + 1))"; }

arktos::etcd::data_dir() {
    if ((ETCD_MEMBERS == 1)); then
        printf '%s/etcd\n' "${ARKTOS_DATA_DIR}"
    else
        printf '%s/etcd/etcd-%s\n' "${ARKTOS_DATA_DIR}" "$1"
    fi
}

arktos::etcd::log_file() {
    printf '%s/%s.log\n' "${LOG_DIR}" "$(arktos::etcd::name "$1")"
}

# host:port,host:port of the cluster the API servers use (ETCD_SERVERS without its schemes, or the
# local members'): the address list of the server's --storage etcd://... URL.
arktos::etcd::endpoints() {
    local endpoints=() i url
    if arktos::etcd::external; then
        IFS=, read -r -a endpoints <<<"${ETCD_SERVERS}"
        for i in "${!endpoints[@]}"; do
            url=${endpoints[i]#*://}
            endpoints[i]=${url%/}
        done
    else
        for ((i = 0; i < ETCD_MEMBERS; i++)); do
            endpoints+=("127.0.0.1:$(arktos::etcd::client_port "${i}")")
        done
    fi
    (IFS=,; printf '%s\n' "${endpoints[*]}")
}

# name=http://127.0.0.1:PEER,... for --initial-cluster.
arktos::etcd::initial_cluster() {
    local members=() i
    for ((i = 0; i < ETCD_MEMBERS; i++)); do
        members+=("$(arktos::etcd::name "${i}")=http://127.0.0.1:$(arktos::etcd::peer_port "${i}")")
    done
    (IFS=,; printf '%s\n' "${members[*]}")
}

# Install etcd-server (Debian) when missing, as containerd.sh installs containerd.
arktos::etcd::ensure_installed() {
    arktos::packages::ensure etcd etcd-server
}

arktos::etcd::check_settings() {
    if ! [[ "${ETCD_MEMBERS}" =~ ^[1-9][0-9]*$ ]]; then
        arktos::log::error "ETCD_MEMBERS=${ETCD_MEMBERS} is not a positive number"
        return 1
    fi
    ((ETCD_MEMBERS % 2 == 1)) ||
        arktos::log::error "ETCD_MEMBERS=${ETCD_MEMBERS} is even: a member lost stops writes as soon as with one member fewer"
}

# The member process itself (foreground; its supervisor starts it again with the same flags).
# --initial-* flags only matter on the first start: later ones read the membership from the data.
arktos::etcd::run() {
    local i=$1 client peer
    client="http://127.0.0.1:$(arktos::etcd::client_port "${i}")"
    peer="http://127.0.0.1:$(arktos::etcd::peer_port "${i}")"
    exec etcd --name "$(arktos::etcd::name "${i}")" --data-dir "$(arktos::etcd::data_dir "${i}")" \
        --listen-client-urls "${client}" --advertise-client-urls "${client}" \
        --listen-peer-urls "${peer}" --initial-advertise-peer-urls "${peer}" \
        --initial-cluster "$(arktos::etcd::initial_cluster)" --initial-cluster-state new \
        --initial-cluster-token arktos-etcd
}

# GET /health of member I: {"health":"true"} once it has a leader and serves reads.
arktos::etcd::healthy() {
    local url="http://127.0.0.1:$(arktos::etcd::client_port "$1")/health" answer
    if command -v curl >/dev/null 2>&1; then
        answer=$(curl -fsS --max-time 2 "${url}" 2>/dev/null) || return 1
    else
        answer=$("${ARKTOS_PYTHON}" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' "${url}" 2>/dev/null) || return 1
    fi
    [[ "${answer}" == *'"health":"true"'* ]]
}

# Starts every local member (none with ETCD_SERVERS) and waits until each reports healthy.
arktos::etcd::start() {
    local i name
    if arktos::etcd::external; then
        arktos::log::status "using the etcd cluster at ${ETCD_SERVERS} (ETCD_SERVERS)"
        return 0
    fi
    arktos::etcd::check_settings
    arktos::etcd::ensure_installed
    for ((i = 0; i < ETCD_MEMBERS; i++)); do
        arktos::apiserver::check_port_free 127.0.0.1 "$(arktos::etcd::client_port "${i}")" ETCD_CLIENT_PORT
        arktos::apiserver::check_port_free 127.0.0.1 "$(arktos::etcd::peer_port "${i}")" ETCD_CLIENT_PORT
    done
    for ((i = 0; i < ETCD_MEMBERS; i++)); do
        name=$(arktos::etcd::name "${i}")
        mkdir -p "$(arktos::etcd::data_dir "${i}")"
        chmod 700 "$(arktos::etcd::data_dir "${i}")"
        arktos::log::status "starting ${name} on 127.0.0.1:$(arktos::etcd::client_port "${i}") (data $(arktos::etcd::data_dir "${i}"), log $(arktos::etcd::log_file "${i}"))"
        : >"$(arktos::etcd::log_file "${i}")"
        arktos::process::supervise "${name}" "$(arktos::etcd::log_file "${i}")" "${ETCD_RESTART_DELAY}" \
            arktos::etcd::run "${i}"
    done
    # Members wait for one another (no leader without a quorum): check them only once all run.
    for ((i = 0; i < ETCD_MEMBERS; i++)); do
        name=$(arktos::etcd::name "${i}")
        arktos::process::wait_ready "${name}" "${ARKTOS_READY_TIMEOUT}" arktos::etcd::healthy "${i}"
    done
    arktos::log::status "etcd is ready at $(arktos::etcd::endpoints)"
}

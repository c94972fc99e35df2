#!/usr/bin/env bash
# Debian packages a component needs, installed on first use (there is no systemd unit or image to
# bring them): arktos-up.sh runs as root on a fresh machine and installs what is missing.

# arktos::packages::ensure COMMAND PACKAGE...: installs PACKAGEs with apt when COMMAND is missing.
arktos::packages::ensure() {
    local command=$1
    shift
    command -v "${command}" >/dev/null && return 0
    if [[ "$(id -u)" -ne 0 ]]; then
        arktos::log::error "${command} is not installed and we are not root; run: apt-get install -y $*"
        return 1
    fi
    arktos::log::status "installing $* (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

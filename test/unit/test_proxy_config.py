"""kube-proxy's command line (proxy.config): the contract's flags and their checks.

Covers: defaults, Go durations, the chain prefix limits, a CIDR normalised, a bad bind address,
--cleanup without a server. Leaves out: running the process (test_proxy_iptables.py).
"""

from __future__ import annotations

import pytest

from proxy.config import parse_args


def test_the_contract_flags_and_their_defaults() -> None:
    config = parse_args(["--kubeconfig", "k", "--hostname-override", "n1", "--cluster-cidr", "10.88.1.0/16"])
    assert (config.kubeconfig, config.hostname, config.cluster_cidr) == ("k", "n1", "10.88.0.0/16")
    assert config.chains.prefix == "KUBE" and config.chains.services == "KUBE-SERVICES"
    assert (config.sync_period_s, config.min_sync_period_s, config.healthz_bind_address) == (30.0, 1.0, "")
    config = parse_args(["--master", "http://127.0.0.1:1", "--iptables-chain-prefix", "T1",
                         "--sync-period", "1m", "--min-sync-period", "500ms",
                         "--healthz-bind-address", "0.0.0.0:10256"])
    assert config.chains.node_ports == "T1-NODEPORTS"
    assert (config.sync_period_s, config.min_sync_period_s) == (60.0, 0.5)
    assert config.healthz_bind_address == "0.0.0.0:10256"


@pytest.mark.parametrize("argv", [
    ["--kubeconfig", "k", "--iptables-chain-prefix", "LONGPREFIX"],
    ["--kubeconfig", "k", "--cluster-cidr", "pods"],
    ["--kubeconfig", "k", "--healthz-bind-address", "10256"],
    ["--kubeconfig", "k", "--sync-period", "soon"],
    [],  # no server
])
def test_bad_values_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_cleanup_needs_no_server() -> None:
    assert parse_args(["--cleanup", "--iptables-chain-prefix", "PX"]).cleanup


@pytest.mark.parametrize(("argv", "expected"), [
    ([], True), (["--network-isolation"], True), (["--network-isolation=false"], False),
    (["--network-isolation", "true"], True), (["--network-isolation=0"], False)])
def test_network_isolation_is_a_go_style_boolean_defaulting_to_true(argv: list[str], expected: bool) -> None:
    assert parse_args(["--master", "http://127.0.0.1:1", *argv]).network_isolation is expected


def test_a_non_boolean_network_isolation_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--master", "http://127.0.0.1:1", "--network-isolation=maybe"])

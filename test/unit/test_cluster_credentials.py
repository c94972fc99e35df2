"""tools/cluster_credentials.py, tools/token_file.py and the `python -m tools.pki` command line.

Covers: the files arktos-up.sh expects in CERT_DIR (names, modes), the identity in each
component kubeconfig (only the admin in system:masters), a CERT_DIR from before per-controller
credentials getting its system:masters controller and kubelet-client certificates re-issued while
everything else is reused, the admin row of known_tokens.csv in Arktos's format, a second run reusing
every byte, token rows added once per user, the front proxy's pair signed by its own CA (never
the cluster CA), and the CLI's `cluster`, `kubeconfig --require-ca`
and `token` subcommands. Leaves out: the shell scripts and a live server (test/e2e).
"""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID

from pki.certificates import certificate_hosts, ensure_ca, ensure_client_cert, load_ca, parse_pair, signed_by
from tools.cluster_credentials import ensure_cluster_credentials
from tools.kubeconfig import ClientIdentity, embedded_client_pair, ensure_client_kubeconfig, read_kubeconfig
from tools.pki import main as pki_main
from tools.token_file import ensure_token, parse_rows

SERVER = "https://127.0.0.1:6443"
SECRETS = [
    "ca.key",
    "serving-kube-apiserver.key",
    "sa.key",
    "client-admin.key",
    "known_tokens.csv",
    "admin.kubeconfig",
    "controller.kubeconfig",
    "scheduler.kubeconfig",
    "kubelet.kubeconfig",
    "kube-proxy.kubeconfig",
    "front-proxy-ca.key",
    "front-proxy-client.key",
]
PUBLIC = ["ca.crt", "serving-kube-apiserver.crt", "sa.pub", "client-admin.crt", "front-proxy-ca.crt",
          "front-proxy-client.crt"]


def subject_of(kubeconfig: Path, user: str) -> tuple[list[str], list[str]]:
    pair = embedded_client_pair(read_kubeconfig(kubeconfig), user)
    assert pair is not None, kubeconfig
    subject = pair.certificate.subject
    return (
        [str(a.value) for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)],
        [str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)],
    )


def test_first_run_creates_every_file_with_the_right_mode(tmp_path: Path) -> None:
    made = ensure_cluster_credentials(tmp_path, server=SERVER, hosts=["127.0.0.1"], node_name="n1")
    for name in SECRETS:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    for name in PUBLIC:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert made.admin_kubeconfig == tmp_path / "admin.kubeconfig"
    assert subject_of(tmp_path / "admin.kubeconfig", "admin") == (["system:admin"], ["system:masters"])
    assert subject_of(tmp_path / "controller.kubeconfig", "kube-controller-manager") == (
        ["system:kube-controller-manager"],
        [],
    )
    assert subject_of(tmp_path / "scheduler.kubeconfig", "kube-scheduler") == (["system:kube-scheduler"], [])
    assert subject_of(tmp_path / "kubelet.kubeconfig", "kubelet") == (["system:node:n1"], ["system:nodes"])
    assert subject_of(tmp_path / "kube-proxy.kubeconfig", "kube-proxy") == (["system:kube-proxy"], [])
    for name in ["admin", "controller", "scheduler", "kubelet", "kube-proxy"]:
        doc = read_kubeconfig(tmp_path / f"{name}.kubeconfig")
        assert doc is not None and doc["clusters"][0]["cluster"]["server"] == SERVER


def test_admin_token_row_in_arktos_format(tmp_path: Path) -> None:
    made = ensure_cluster_credentials(tmp_path, server=SERVER, hosts=["127.0.0.1"], node_name="n1")
    [row] = list(csv.reader(io.StringIO(made.token_file.read_text())))
    assert row == [made.admin_token, "admin", "admin", "system:masters", "", "system"]
    assert '"system:masters"' in made.token_file.read_text()


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    ensure_cluster_credentials(tmp_path, server=SERVER, hosts=["127.0.0.1"], node_name="n1")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    log: list[str] = []
    ensure_cluster_credentials(tmp_path, server=SERVER, hosts=["127.0.0.1"], node_name="n1", log=log)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert all(line.startswith("reused") for line in log), log


def test_masters_certificates_of_an_older_cert_dir_are_reissued(tmp_path: Path) -> None:
    """Before per-controller credentials, the controller manager and the API server's kubelet client
    were in system:masters; a restart on such a CERT_DIR re-issues exactly those two."""
    ensure_cluster_credentials(tmp_path, server=SERVER, hosts=["127.0.0.1"], node_name="n1")
    ca = ensure_ca(tmp_path)
    masters = ("system:masters",)
    ensure_client_kubeconfig(tmp_path / "controller.kubeconfig", ca, server=SERVER,
                             user="kube-controller-manager",
                             identity=ClientIdentity("system:kube-controller-manager", organizations=masters))
    for name in ("client-kube-apiserver-kubelet.crt", "client-kube-apiserver-kubelet.key"):
        (tmp_path / name).unlink()
    ensure_client_cert(ca, tmp_path / "client-kube-apiserver-kubelet.crt",
                       tmp_path / "client-kube-apiserver-kubelet.key",
                       common_name="kube-apiserver-kubelet-client", organizations=masters)
    admin_before = (tmp_path / "admin.kubeconfig").read_bytes()
    log: list[str] = []
    ensure_cluster_credentials(tmp_path, server=SERVER, hosts=["127.0.0.1"], node_name="n1", log=log)
    assert "issued system:kube-controller-manager in controller.kubeconfig" in log, log
    assert subject_of(tmp_path / "controller.kubeconfig", "kube-controller-manager") == (
        ["system:kube-controller-manager"], [])
    pair = parse_pair((tmp_path / "client-kube-apiserver-kubelet.crt").read_bytes(),
                      (tmp_path / "client-kube-apiserver-kubelet.key").read_bytes())
    assert pair is not None
    assert pair.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) == []
    assert (tmp_path / "admin.kubeconfig").read_bytes() == admin_before


def test_token_rows_added_once_per_user_and_tenant(tmp_path: Path) -> None:
    path = tmp_path / "known_tokens.csv"
    admin = ensure_token(path, user="admin", groups=["system:masters"])
    carol = ensure_token(path, user="carol", uid="u-1", groups=["devs", "ops"], tenant="acme")
    assert ensure_token(path, user="carol", tenant="acme") == carol
    other = ensure_token(path, user="carol", tenant="globex")
    assert len({admin, carol, other}) == 3
    rows = parse_rows(path.read_text())
    assert [(r.user, r.uid, r.groups, r.tenant) for r in rows] == [
        ("admin", "admin", ("system:masters",), "system"),
        ("carol", "u-1", ("devs", "ops"), "acme"),
        ("carol", "carol", (), "globex"),
    ]
    with pytest.raises(ValueError):
        ensure_token(path, user="a,b")


def test_cli_cluster_then_tenant_kubeconfig(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        pki_main(
            ["cluster", "--dir", str(tmp_path), "--server", SERVER, "--host", "10.0.0.2", "--node-name", "n1"]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[-1] == f"admin kubeconfig: {tmp_path / 'admin.kubeconfig'}"
    out = tmp_path / "acme-alice.kubeconfig"
    assert (
        pki_main(
            [
                "kubeconfig",
                "--require-ca",
                "--dir",
                str(tmp_path),
                "--out",
                str(out),
                "--server",
                SERVER,
                "--user",
                "acme-alice",
                "--common-name",
                "alice",
                "--org",
                "tenant:acme",
                "--ou",
                "devs",
                "--prefix-tenant",
                "acme",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == str(out)
    assert subject_of(out, "acme-alice") == (["alice"], ["tenant:acme"])


def test_cli_require_ca_fails_without_a_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = pki_main(
        [
            "kubeconfig",
            "--require-ca",
            "--dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "k"),
            "--server",
            SERVER,
            "--common-name",
            "alice",
        ]
    )
    assert status == 1
    assert "no usable CA" in capsys.readouterr().err
    assert not (tmp_path / "ca.crt").exists() and not (tmp_path / "k").exists()


def test_cli_token_prints_the_same_token_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["token", "--file", str(tmp_path / "t.csv"), "--user", "dave", "--tenant", "acme", "--group", "g"]
    assert pki_main(args) == 0
    first = capsys.readouterr().out.strip()
    assert pki_main(args) == 0
    assert capsys.readouterr().out.strip() == first and len(first) == 64


def test_front_proxy_pair_is_signed_by_its_own_ca(tmp_path: Path) -> None:
    credentials = ensure_cluster_credentials(tmp_path, server=SERVER, hosts=["127.0.0.1"], node_name="n1")
    pair = parse_pair(credentials.front_proxy_client_cert.read_bytes(),
                      credentials.front_proxy_client_key.read_bytes())
    assert pair is not None
    assert [a.value for a in pair.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [
        "front-proxy-client"]
    assert signed_by(pair.certificate, load_ca(tmp_path, stem="front-proxy-ca"))
    assert not signed_by(pair.certificate, load_ca(tmp_path))
    files = (credentials.front_proxy_ca_cert, credentials.front_proxy_client_cert)
    before = [f.read_bytes() for f in files]
    ensure_cluster_credentials(tmp_path, server=SERVER, hosts=["127.0.0.1"], node_name="n1")
    assert [f.read_bytes() for f in files] == before


def test_cli_cluster_names_every_network_kubernetes_address(tmp_path: Path) -> None:
    """Each /24 of the network pool holds a tenant network's kubernetes-N at its first address."""
    argv = ["cluster", "--dir", str(tmp_path), "--server", SERVER, "--host", "10.0.0.1", "--node-name", "n1"]
    assert pki_main([*argv, "--network-service-cidr-pool", "10.96.0.0/22"]) == 0
    pair = parse_pair((tmp_path / "serving-kube-apiserver.crt").read_bytes(),
                      (tmp_path / "serving-kube-apiserver.key").read_bytes())
    assert pair is not None
    hosts = {str(name.value) for name in certificate_hosts(pair.certificate)}
    assert {"10.0.0.1", "10.96.0.1", "10.96.1.1", "10.96.2.1", "10.96.3.1"} <= hosts
    assert "10.96.4.1" not in hosts and "10.96.0.10" not in hosts

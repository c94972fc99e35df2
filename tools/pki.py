"""`python -m tools.pki`: the command line the hack/ scripts use to make certificates and kubeconfigs.

Shell scripts should not carry openssl recipes (upstream's local-up-cluster needs openssl and
cfssl; our machines have neither guaranteed), so each step is a subcommand here:

  cluster       everything arktos-up.sh needs in CERT_DIR, in one process
  ca            ensure ca.crt/ca.key
  serving-cert  ensure a serving pair for some hosts
  sa-keypair    ensure sa.key/sa.pub
  client-cert   ensure a client pair as files
  kubeconfig    ensure a kubeconfig with an embedded client certificate
  token         ensure a static-token row for a user and print the token

Each prints what it produced on stdout (paths, or the token); errors go to stderr with status 1.
The certificates themselves are the `pki` library's, which the kubelet uses at run time too.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path

from pki.certificates import (
    PKIError,
    ensure_ca,
    ensure_client_cert,
    ensure_sa_keypair,
    ensure_serving_cert,
    load_ca,
)
from tools.cluster_credentials import ensure_cluster_credentials
from tools.kubeconfig import ClientIdentity, ensure_client_kubeconfig
from tools.token_file import SYSTEM_TENANT, ensure_token


def _add_identity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--common-name", required=True, help="CN: the user name")
    parser.add_argument("--org", action="append", default=[], help="O entry (group, or tenant:T); repeatable")
    parser.add_argument("--ou", action="append", default=[], help="OU entry (group in Arktos); repeatable")


def network_api_addresses(pool: str) -> list[str]:
    """The first address of every /24 of ``pool``: where a tenant network's ``kubernetes-N``
    Service sits, so an in-cluster client verifying the API server by that IP succeeds (one IP SAN
    per possible network: about 25 kB of certificate for the default /12)."""
    if not pool:
        return []
    network = ipaddress.ip_network(pool, strict=False)
    if not 12 <= network.prefixlen <= 24:
        # Above 4096 names the certificate nears the 64 KiB a TLS handshake message may hold in
        # Go's clients (kubectl, the kubelet's client-go peers).
        raise PKIError(f"--network-service-cidr-pool {pool}: must be a /12 to a /24")
    return [str(subnet.network_address + 1) for subnet in network.subnets(new_prefix=24)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.pki", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    cluster = commands.add_parser("cluster", help="CA, serving cert, SA keys, tokens, component kubeconfigs")
    cluster.add_argument("--dir", type=Path, required=True)
    cluster.add_argument("--server", required=True, help="secure URL the kubeconfigs point at")
    cluster.add_argument("--host", action="append", default=[], help="serving-cert host/IP; repeatable")
    cluster.add_argument("--node-name", required=True, help="kubelet identity system:node:<name>")
    cluster.add_argument("--network-service-cidr-pool", default="",
                         help="the API server's pool of tenant network Service /24s: the serving cert "
                              "also names each /24's first address (its network's kubernetes-N Service)")

    ca = commands.add_parser("ca", help="ensure ca.crt and ca.key")
    ca.add_argument("--dir", type=Path, required=True)

    serving = commands.add_parser("serving-cert", help="ensure NAME.crt/NAME.key for hosts")
    serving.add_argument("--dir", type=Path, required=True)
    serving.add_argument("--name", default="serving-kube-apiserver")
    serving.add_argument("--host", action="append", required=True)

    sa = commands.add_parser("sa-keypair", help="ensure sa.key and sa.pub")
    sa.add_argument("--dir", type=Path, required=True)

    client = commands.add_parser("client-cert", help="ensure NAME.crt/NAME.key for an identity")
    client.add_argument("--dir", type=Path, required=True)
    client.add_argument("--name", required=True)
    _add_identity_arguments(client)

    kubeconfig = commands.add_parser("kubeconfig", help="ensure a kubeconfig with an embedded client cert")
    kubeconfig.add_argument("--dir", type=Path, required=True, help="directory holding the CA")
    kubeconfig.add_argument("--out", type=Path, required=True)
    kubeconfig.add_argument("--server", required=True)
    kubeconfig.add_argument("--user", help="user entry name [the common name]")
    kubeconfig.add_argument("--prefix-tenant", help="add context `prefix` at SERVER/tenants/TENANT")
    kubeconfig.add_argument("--require-ca", action="store_true", help="fail instead of creating a CA")
    _add_identity_arguments(kubeconfig)

    token = commands.add_parser("token", help="ensure a known_tokens.csv row and print its token")
    token.add_argument("--file", type=Path, required=True)
    token.add_argument("--user", required=True)
    token.add_argument("--uid")
    token.add_argument("--group", action="append", default=[])
    token.add_argument("--tenant", default=SYSTEM_TENANT)
    return parser


def _run(args: argparse.Namespace) -> list[str]:
    """Carries out one subcommand; returns the lines to print."""
    if args.command == "cluster":
        log: list[str] = []
        hosts = [*args.host, *network_api_addresses(args.network_service_cidr_pool)]
        made = ensure_cluster_credentials(
            args.dir, server=args.server, hosts=hosts, node_name=args.node_name, log=log
        )
        return [*log, f"admin kubeconfig: {made.admin_kubeconfig}"]
    if args.command == "ca":
        return [str(ensure_ca(args.dir).cert_path)]
    if args.command == "serving-cert":
        cert, key = args.dir / f"{args.name}.crt", args.dir / f"{args.name}.key"
        ensure_serving_cert(ensure_ca(args.dir), cert, key, hosts=args.host)
        return [str(cert), str(key)]
    if args.command == "sa-keypair":
        return [str(path) for path in ensure_sa_keypair(args.dir)]
    if args.command == "client-cert":
        cert, key = args.dir / f"{args.name}.crt", args.dir / f"{args.name}.key"
        ensure_client_cert(
            ensure_ca(args.dir),
            cert,
            key,
            common_name=args.common_name,
            organizations=args.org,
            organizational_units=args.ou,
        )
        return [str(cert), str(key)]
    if args.command == "kubeconfig":
        ca = load_ca(args.dir) if args.require_ca else ensure_ca(args.dir)
        identity = ClientIdentity(args.common_name, tuple(args.org), tuple(args.ou))
        ensure_client_kubeconfig(
            args.out,
            ca,
            identity=identity,
            server=args.server,
            user=args.user or args.common_name,
            prefix_tenant=args.prefix_tenant,
        )
        return [str(args.out)]
    if args.command == "token":
        return [ensure_token(args.file, user=args.user, uid=args.uid, groups=args.group, tenant=args.tenant)]
    raise AssertionError(f"unhandled command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lines = _run(args)
    except (PKIError, ValueError, OSError) as e:
        print(f"tools.pki {args.command}: {e}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

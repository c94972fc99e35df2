"""Table rows for service networking: endpoints, endpoint slices, ingresses, ingress classes,
network policies, and Arktos's networks.

Columns and cells follow upstream's ``pkg/printers/internalversion/printers.go`` (address lists cut
at three entries with ``+ N more...``, ``*`` for an ingress without hosts); Arktos's Network is a
CRD there, so its table is the CRD's additionalPrinterColumns (Type, VPC, Phase, DNS) with nulls
for absent values.
"""

from __future__ import annotations

from typing import Any

from server.printing.cells import join_host_port, with_more
from server.printing.printers import AGE, NAME, Obj, Printer, column, created_age, name_of, selector_or_none


def _endpoints_text(obj: Obj) -> str:
    """formatEndpoints: ``ip:port`` for every port of every subset (bare IPs for a subset without
    ports), the first three shown; ``<none>`` without subsets."""
    subsets = obj.get("subsets") or ()
    if not subsets:
        return "<none>"
    entries: list[str] = []
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or ()]
        ports = subset.get("ports") or ()
        if not ports:
            entries.extend(addresses)
        for port in ports:
            entries.extend(join_host_port(ip, port.get("port", 0)) for ip in addresses)
    return with_more(entries, len(entries), empty="")


ENDPOINTS = Printer(
    columns=(NAME, column("Endpoints", "The set of all endpoints is the union of all subsets."), AGE),
    cells=lambda obj, now: [name_of(obj), _endpoints_text(obj), created_age(obj, now)])


def _endpoint_slice_cells(obj: Obj, now: float) -> list[Any]:
    ports = [str(p["port"]) if p.get("port") is not None else p.get("name") or "*"
             for p in obj.get("ports") or ()]
    addresses = [a for e in obj.get("endpoints") or () for a in e.get("addresses") or ()]
    return [name_of(obj), obj.get("addressType", ""), with_more(ports, len(ports)),
            with_more(addresses, len(addresses)), created_age(obj, now)]


ENDPOINT_SLICE = Printer(
    columns=(NAME, column("AddressType", "addressType specifies the type of address carried by this "
                          "EndpointSlice."),
             column("Ports", "ports specifies the list of network ports exposed by each endpoint in this "
                    "slice."),
             column("Endpoints", "endpoints is a list of unique endpoints in this slice."), AGE),
    cells=_endpoint_slice_cells)


def _ingress_hosts(rules: list[Any]) -> str:
    """formatHosts: hosts of the rules until three are found; "more" counts rules, not hosts."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def _ingress_cells(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    # The server prints wide: every load-balancer address, none cut to 16 characters.
    address = ",".join(sorted({i.get("ip") or i.get("hostname") for i in ingress} - {None, ""}))
    return [name_of(obj), spec.get("ingressClassName") or "<none>", _ingress_hosts(spec.get("rules") or []),
            address, "80, 443" if spec.get("tls") else "80", created_age(obj, now)]


INGRESS = Printer(
    columns=(NAME,
             column("Class", "The name of the IngressClass resource that should be used for additional "
                    "configuration"),
             column("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
             column("Address", "Address is a list containing ingress points for the load-balancer"),
             column("Ports", "Ports of TLS configurations that open"), AGE),
    cells=_ingress_cells)


def _ingress_class_parameters(spec: Obj) -> str:
    parameters = spec.get("parameters")
    if not parameters:
        return "<none>"
    kind = parameters.get("kind", "")
    if parameters.get("apiGroup") is not None:
        kind = f"{kind}.{parameters['apiGroup']}"
    return f"{kind}/{parameters.get('name', '')}"


INGRESS_CLASS = Printer(
    columns=(NAME, column("Controller", "Controller that is responsible for handling this class"),
             column("Parameters", "A reference to a resource with additional parameters"), AGE),
    cells=lambda obj, now: [name_of(obj), (obj.get("spec") or {}).get("controller", ""),
                            _ingress_class_parameters(obj.get("spec") or {}), created_age(obj, now)])

NETWORK_POLICY = Printer(
    columns=(NAME, column("Pod-Selector", "Selects the pods to which this NetworkPolicy object applies."),
             AGE),
    cells=lambda obj, now: [name_of(obj), selector_or_none((obj.get("spec") or {}).get("podSelector")),
                            created_age(obj, now)])


def _crd_column(name: str, json_path: str) -> dict[str, Any]:
    # apiextensions' table convertor describes a printer column by its JSONPath.
    return column(name, f"Custom resource definition column (in JSONPath format): {json_path}")


def _network_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [name_of(obj), spec.get("type"), spec.get("vpcID"), status.get("phase"),
            status.get("dnsServiceIP")]


# Arktos's crd-network.yaml: additionalPrinterColumns Type, VPC, Phase, DNS (and so no AGE).
NETWORK = Printer(
    columns=(NAME, _crd_column("Type", ".spec.type"), _crd_column("VPC", ".spec.vpcID"),
             _crd_column("Phase", ".status.phase"), _crd_column("DNS", ".status.dnsServiceIP")),
    cells=_network_cells)

"""Endpoint addresses a Service may be sent to: upstream's ``ValidateNonSpecialIP``.

kube-proxy DNATs a Service's traffic to whatever its Endpoints/EndpointSlices name, and a tenant may
write those for its selectorless Services. Upstream therefore refuses addresses that would turn a
Service into a door to the node itself — unspecified, loopback, link-local (the cloud metadata
address 169.254.169.254 among them) and link-local multicast — in both Endpoints
(``subsets[i].addresses[j].ip``, ``notReadyAddresses``) and EndpointSlices
(``endpoints[i].addresses[j]``, which for ``addressType: IPv4`` must also be IPv4 addresses).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apis.field_errors import FieldError, child, index, invalid

_IPV4_LINK_LOCAL_MULTICAST = ipaddress.ip_network("224.0.0.0/24")


def _is_link_local_multicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Go's IP.IsLinkLocalMulticast: 224.0.0.0/24, or an IPv6 multicast address of link-local scope."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip in _IPV4_LINK_LOCAL_MULTICAST
    return ip.is_multicast and ip.packed[1] & 0x0F == 0x02


def non_special_ip_errors(text: Any, path: str) -> list[FieldError]:
    """Upstream's ValidateNonSpecialIP, with its messages."""
    try:
        ip = ipaddress.ip_address(str(text))
    except ValueError:
        return [invalid(path, text, "must be a valid IP address")]
    errors = []
    if ip.is_unspecified:
        errors.append(invalid(path, text, f"may not be unspecified ({text})"))
    if ip.is_loopback:
        errors.append(invalid(path, text, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errors.append(invalid(path, text, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if _is_link_local_multicast(ip):
        errors.append(invalid(path, text,
                              "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errors


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def endpoints_errors(obj: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for s, subset in enumerate(_items(obj.get("subsets"))):
        if not isinstance(subset, dict):
            continue
        for field in ("addresses", "notReadyAddresses"):
            for a, address in enumerate(_items(subset.get(field))):
                if isinstance(address, dict) and "ip" in address:
                    path = child(index(child(index("subsets", s), field), a), "ip")
                    errors.extend(non_special_ip_errors(address["ip"], path))
    return errors


def endpoint_slice_errors(obj: dict[str, Any]) -> list[FieldError]:
    address_type = obj.get("addressType")
    if address_type not in ("IPv4", "IPv6"):
        return []  # FQDN slices carry names, checked by the schema
    errors: list[FieldError] = []
    for e, endpoint in enumerate(_items(obj.get("endpoints"))):
        if not isinstance(endpoint, dict):
            continue
        for a, address in enumerate(_items(endpoint.get("addresses"))):
            path = index(child(index("endpoints", e), "addresses"), a)
            if not _is_family(address, address_type):
                family = "IPv4" if address_type == "IPv4" else "IPv6"
                errors.append(invalid(path, address, f"must be a valid {family} address"))
                continue
            errors.extend(non_special_ip_errors(address, path))
    return errors


def _is_family(text: Any, address_type: str) -> bool:
    try:
        ip = ipaddress.ip_address(str(text))
    except ValueError:
        return False
    return ip.version == (4 if address_type == "IPv4" else 6)

"""Cell texts several printers share, in the forms upstream's printers.go writes them.

Quantities in their canonical form (``Quantity.String``), IntOrString values, PV access modes as
``RWO,ROX``, address and port lists cut at three with ``+ N more...``, a LabelSelector as Go's
``String`` method prints it, and the owner that controls an object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from apis.quantity import QuantityError, format_quantity, parse_quantity
from server.printing.printers import Obj, meta_of

# helper.GetAccessModesAsString's fixed order and short names.
_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))
# Upstream's formatEndpoints, formatDiscoveryPorts, ...: three entries, then "+ N more...".
LIST_MAX = 3


def quantity_text(value: Any) -> str:
    """``Quantity.String()``: the canonical form (``1024Mi`` -> ``1Gi``); "0" for an absent one."""
    if value is None:
        return "0"
    try:
        return format_quantity(parse_quantity(value))
    except (QuantityError, TypeError, ValueError):
        return str(value)


def int_or_string(value: Any) -> str:
    """``intstr.IntOrString.String()``: the number or the string as it is."""
    return str(value)


def access_modes(modes: Iterable[str] | None) -> str:
    present = set(modes or ())
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def with_more(items: list[str], total: int, *, empty: str = "<unset>") -> str:
    """listWithMoreString: the first `LIST_MAX` of `total` entries, then ``+ N more...``."""
    text = ",".join(items[:LIST_MAX])
    if total > LIST_MAX:
        return f"{text} + {total - LIST_MAX} more..."
    return text or empty


def join_host_port(host: str, port: Any) -> str:
    """Go's net.JoinHostPort: IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def go_label_selector(selector: Mapping[str, Any]) -> str:
    """A metav1.LabelSelector through its generated ``String()`` (what upstream prints for a
    ValidatingAdmissionPolicyBinding's paramRef selector)."""
    labels = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or ())}],}},"
        for e in selector.get("matchExpressions") or ())
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}")


def controller_of(obj: Obj) -> str:
    """The controlling owner as ``kind.group/name`` in lower case (upstream's formatResourceName
    of metav1.GetControllerOf), ``<none>`` without one."""
    for ref in meta_of(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = f"{ref.get('kind', '')}.{group}" if group else str(ref.get("kind", ""))
            return f"{kind.lower()}/{ref.get('name', '')}" if kind else str(ref.get("name", ""))
    return "<none>"

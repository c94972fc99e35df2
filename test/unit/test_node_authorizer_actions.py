"""server.authz.node on Arktos Actions: a kubelet works only the Actions addressed to its node.

Covers list/watch allowed only with a field selector pinning ``spec.nodeName`` to the kubelet's
node (``=`` and ``==``, combined with other terms), refused without one, for another node, with
``!=`` or with an OR of alternatives; get and status get/update/patch allowed only for Actions
whose spec.nodeName is the node (looked up per tenant and namespace); writes to the main
resource, deletes and creates refused; non-node users get no opinion.
Leaves out the cache-backed lookup (test/component/test_vm_actions_access.py runs it for real).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from server.auth.user import UserInfo
from server.authz.attributes import Attributes
from server.authz.node import NodeAuthorizer

KUBELET = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))


class NoPods:
    def pods_on_node(self, node: str) -> Iterable[dict[str, Any]]:
        return []


class Actions:
    """reboot-1 in system/default goes to n1; in tenant acme the same name goes to n2."""

    def action_node(self, tenant: str, namespace: str, name: str) -> str | None:
        return {("system", "default", "reboot-1"): "n1",
                ("acme", "default", "reboot-1"): "n2"}.get((tenant, namespace, name))


AUTHORIZER = NodeAuthorizer(NoPods(), actions=Actions())


def attrs(verb: str, *, name: str = "", sub: str = "", tenant: str = "system", namespace: str = "default",
          selector: str = "", who: UserInfo = KUBELET) -> Attributes:
    return Attributes(user=who, verb=verb, resource_request=True, resource="actions", subresource=sub,
                      name=name, namespace=namespace, tenant=tenant, field_selector=selector)


@pytest.mark.parametrize("selector", ["spec.nodeName=n1", "spec.nodeName==n1",
                                      "status.complete=false,spec.nodeName=n1"])
@pytest.mark.parametrize("verb", ["list", "watch"])
def test_list_and_watch_need_the_node_pinned(verb: str, selector: str) -> None:
    decision = AUTHORIZER.authorize(attrs(verb, tenant="all", namespace="", selector=selector))
    assert decision is not None and decision.allowed


@pytest.mark.parametrize("selector", ["", "spec.nodeName=n2", "spec.nodeName!=n2",
                                      "spec.nodeName=n1;spec.nodeName=n2", "spec.podName=vm1"])
def test_list_without_own_node_is_refused(selector: str) -> None:
    decision = AUTHORIZER.authorize(attrs("list", tenant="all", namespace="", selector=selector))
    assert decision is not None and not decision.allowed
    assert "spec.nodeName=n1" in decision.reason


@pytest.mark.parametrize(("verb", "sub"), [("get", ""), ("get", "status"), ("update", "status"),
                                           ("patch", "status")])
def test_own_action_by_name(verb: str, sub: str) -> None:
    decision = AUTHORIZER.authorize(attrs(verb, name="reboot-1", sub=sub))
    assert decision is not None and decision.allowed


@pytest.mark.parametrize(("verb", "sub", "tenant", "name"), [
    ("get", "", "acme", "reboot-1"),          # same name, other tenant, other node
    ("update", "status", "acme", "reboot-1"),
    ("get", "", "system", "missing"),
    ("update", "", "system", "reboot-1"),     # the spec is not the kubelet's to change
    ("delete", "", "system", "reboot-1"),
    ("create", "", "system", ""),
])
def test_other_actions_and_verbs_are_refused(verb: str, sub: str, tenant: str, name: str) -> None:
    decision = AUTHORIZER.authorize(attrs(verb, name=name, sub=sub, tenant=tenant))
    assert decision is not None and not decision.allowed


def test_without_a_lookup_by_name_is_refused() -> None:
    decision = NodeAuthorizer(NoPods()).authorize(attrs("get", name="reboot-1"))
    assert decision is not None and not decision.allowed


def test_other_users_get_no_opinion() -> None:
    admin = UserInfo("alice", groups=("system:authenticated",))
    assert AUTHORIZER.authorize(attrs("list", selector="spec.nodeName=n1", who=admin)) is None

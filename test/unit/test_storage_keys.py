"""Storage keys: the registry's layout (server/registry/keys.py) and the segment read back from a
key (server/storage/keys.py), which the watch cache and the encryption transformer file by.

Covers: cluster, tenant and namespaced keys and list prefixes (ARKTOS.md §1, prefixes end in '/'),
and that `segment_of` returns the resource segment of every key the registry builds. Leaves out:
the backends that store the keys (test/storage).
"""

from __future__ import annotations

from apis.catalogue import Resource
from server.registry.keys import ALL_TENANTS, Scope, list_prefix, object_key
from server.storage.keys import segment_of

PODS = Resource(group="", version="v1", kind="Pod", plural="pods", singular="pod", scope="Namespaced")
NODES = Resource(group="", version="v1", kind="Node", plural="nodes", singular="node", scope="Cluster")
NAMESPACES = Resource(group="", version="v1", kind="Namespace", plural="namespaces", singular="namespace",
                      scope="Tenant")


def test_keys_follow_the_arktos_layout() -> None:
    scope = Scope("acme", "default")
    assert object_key(PODS, scope, "web") == "/registry/pods/acme/default/web"
    assert object_key(NAMESPACES, scope, "default") == "/registry/namespaces/acme/default"
    assert object_key(NODES, scope, "n1") == "/registry/nodes/n1"
    assert list_prefix(PODS, scope) == "/registry/pods/acme/default/"
    assert list_prefix(PODS, Scope("acme")) == "/registry/pods/acme/"
    assert list_prefix(PODS, Scope(ALL_TENANTS)) == "/registry/pods/"


def test_segment_of_reads_back_the_segment() -> None:
    for resource in (PODS, NODES, NAMESPACES):
        for key in (object_key(resource, Scope("acme", "ns"), "x"), list_prefix(resource, Scope("acme"))):
            assert segment_of(key) == resource.key_segment
    assert segment_of("/registry/pods") == "pods"

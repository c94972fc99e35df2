"""Strategic merge patch as the API server applies it to built-in kinds.

Covers the exact patch bodies stock kubectl sends — `apply` (3-way, with `$setElementOrder`,
`$patch: delete`, nulls and the last-applied annotation), `label`/`annotate`, `scale`, `edit`,
`patch --type=strategic` — plus every directive (`$patch` replace/delete/merge, `$retainKeys`,
`$deleteFromPrimitiveList`), the per-field strategies read from the OpenAPI definitions (containers,
env, volumes, ports, finalizers, ownerReferences merged; tolerations atomic; PDB selector replaced),
upstream's list ordering, error statuses, and that inputs are never mutated.
Leaves out: creating patches (kubectl's side) and server-side apply.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from server.patch import PatchError, apply_strategic_merge_patch

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"


def live_deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web", "team": "a"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{old}\n"},
            "finalizers": ["example.com/a"],
        },
        "spec": {
            "replicas": 2,
            "minReadySeconds": 5,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.25",
                            "terminationMessagePath": "/dev/termination-log",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        },
                        {"name": "sidecar", "image": "busybox"},
                    ],
                    "tolerations": [{"key": "k1", "operator": "Exists"}],
                    "volumes": [{"name": "data", "hostPath": {"path": "/srv"}}],
                },
            },
        },
        "status": {"replicas": 2},
    }


def smp(doc: dict[str, Any], patch: dict[str, Any], definition: str = DEPLOYMENT) -> dict[str, Any]:
    return apply_strategic_merge_patch(doc, patch, definition)


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def test_kubectl_apply_second_run_updates_image_drops_field_and_deletes_container() -> None:
    patch = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{new}\n"}},
        "spec": {
            "minReadySeconds": None,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}],
                    "containers": [
                        {"image": "nginx:1.26", "name": "app"},
                        {"$patch": "delete", "name": "sidecar"},
                    ],
                }
            },
        },
    }
    out = smp(live_deployment(), patch)
    containers = pod_spec(out)["containers"]
    assert [c["name"] for c in containers] == ["app"]
    assert containers[0]["image"] == "nginx:1.26"
    # Server-side defaults and untouched lists survive the merge.
    assert containers[0]["terminationMessagePath"] == "/dev/termination-log"
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert "minReadySeconds" not in out["spec"]
    assert out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "{new}\n"
    assert out["status"] == {"replicas": 2}
    assert "$setElementOrder/containers" not in pod_spec(out)


def test_kubectl_apply_set_element_order_places_new_container_and_keeps_server_only_one() -> None:
    live = live_deployment()
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "init"}, {"name": "app"}],
                    "containers": [{"name": "init", "image": "alpine"}],
                }
            }
        }
    }
    names = [c["name"] for c in pod_spec(smp(live, patch))["containers"]]
    assert names == ["init", "app", "sidecar"]


def test_kubectl_label_adds_and_label_minus_removes() -> None:
    out = smp(live_deployment(), {"metadata": {"labels": {"env": "prod"}}})
    assert out["metadata"]["labels"] == {"app": "web", "team": "a", "env": "prod"}
    out = smp(out, {"metadata": {"labels": {"team": None}}})
    assert out["metadata"]["labels"] == {"app": "web", "env": "prod"}


def test_kubectl_annotate_on_object_without_annotations() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    out = smp(pod, {"metadata": {"annotations": {"note": "hi", "gone": None}}}, POD)
    assert out["metadata"]["annotations"] == {"note": "hi"}


def test_kubectl_scale_patches_scale_subresource() -> None:
    scale = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
        "status": {"replicas": 2, "selector": "app=web"},
    }
    out = smp(scale, {"spec": {"replicas": 5}}, "io.k8s.api.autoscaling.v1.Scale")
    assert out["spec"] == {"replicas": 5}
    assert out["status"]["selector"] == "app=web"


def test_kubectl_edit_two_way_patch_changes_only_edited_fields() -> None:
    patch = {
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                    "containers": [{"name": "sidecar", "image": "busybox:1.36"}],
                }
            },
        }
    }
    out = smp(live_deployment(), patch)
    containers = pod_spec(out)["containers"]
    assert [c["name"] for c in containers] == ["app", "sidecar"]
    assert containers[1]["image"] == "busybox:1.36"
    assert containers[0]["image"] == "nginx:1.25"
    assert out["spec"]["replicas"] == 3


def test_kubectl_patch_strategic_merges_container_by_name() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}}}
    out = smp(live_deployment(), patch)
    containers = pod_spec(out)["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "x"), ("sidecar", "busybox")]
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_new_list_items_come_before_server_only_items_like_upstream() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "n"}]}}}}
    names = [c["name"] for c in pod_spec(smp(live_deployment(), patch))["containers"]]
    assert names == ["new", "app", "sidecar"]


def test_env_merged_by_name_and_deleted_by_directive() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "env": [
                                {"name": "B", "value": "20"},
                                {"name": "C", "value": "3"},
                                {"name": "A", "$patch": "delete"},
                            ],
                        }
                    ]
                }
            }
        }
    }
    env = pod_spec(smp(live_deployment(), patch))["containers"][0]["env"]
    assert env == [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]


def test_ports_merged_by_container_port() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
                        }
                    ]
                }
            }
        }
    }
    ports = pod_spec(smp(live_deployment(), patch))["containers"][0]["ports"]
    assert ports == [{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}]


def test_volumes_merge_by_name_and_retain_keys_clears_old_source() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "volumes": [
                        {"name": "data", "$retainKeys": ["emptyDir", "name"], "emptyDir": {}},
                        {"name": "cache", "emptyDir": {}},
                    ]
                }
            }
        }
    }
    volumes = pod_spec(smp(live_deployment(), patch))["volumes"]
    assert volumes == [{"name": "data", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}]


def test_deployment_strategy_retain_keys_drops_rolling_update() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(live_deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_must_list_every_patched_field() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {}}}}
    with pytest.raises(PatchError) as info:
        smp(live_deployment(), patch)
    assert info.value.status == 400
    assert str(info.value) == "invalid patch format of retainKeys"


def test_tolerations_have_no_strategy_so_are_replaced() -> None:
    patch = {"spec": {"template": {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}}}
    assert pod_spec(smp(live_deployment(), patch))["tolerations"] == [{"key": "k2", "operator": "Exists"}]


def test_finalizers_union_and_delete_from_primitive_list() -> None:
    out = smp(live_deployment(), {"metadata": {"finalizers": ["example.com/b", "example.com/a"]}})
    assert out["metadata"]["finalizers"] == ["example.com/b", "example.com/a"]
    out = smp(out, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}})
    assert out["metadata"]["finalizers"] == ["example.com/b"]


def test_set_element_order_on_primitive_list() -> None:
    live = live_deployment()
    live["metadata"]["finalizers"] = ["a", "b", "c"]
    patch = {"metadata": {"$setElementOrder/finalizers": ["c", "a", "b"]}}
    assert smp(live, patch)["metadata"]["finalizers"] == ["c", "a", "b"]


def test_owner_references_merged_by_uid() -> None:
    live = live_deployment()
    live["metadata"]["ownerReferences"] = [{"uid": "u1", "kind": "A", "name": "a", "apiVersion": "v1"}]
    patch = {
        "metadata": {
            "ownerReferences": [
                {"uid": "u1", "controller": True},
                {"uid": "u2", "kind": "B", "name": "b", "apiVersion": "v1"},
            ]
        }
    }
    refs = smp(live, patch)["metadata"]["ownerReferences"]
    assert {r["uid"]: r for r in refs}["u1"] == {
        "uid": "u1",
        "kind": "A",
        "name": "a",
        "apiVersion": "v1",
        "controller": True,
    }
    assert {r["uid"] for r in refs} == {"u1", "u2"}


def test_patch_replace_directive_on_map_and_in_list() -> None:
    out = smp(live_deployment(), {"spec": {"selector": {"$patch": "replace", "matchLabels": {"x": "y"}}}})
    assert out["spec"]["selector"] == {"matchLabels": {"x": "y"}}
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "only", "image": "o"}, {"$patch": "replace"}]}}
        }
    }
    assert pod_spec(smp(live_deployment(), patch))["containers"] == [{"name": "only", "image": "o"}]


def test_patch_delete_directive_on_map_empties_it() -> None:
    out = smp(live_deployment(), {"spec": {"template": {"metadata": {"$patch": "delete"}}}})
    assert out["spec"]["template"]["metadata"] == {}


def test_patch_merge_directive_on_map_is_the_default() -> None:
    out = smp(live_deployment(), {"metadata": {"$patch": "merge", "labels": {"x": "1"}}})
    assert out["metadata"]["labels"]["x"] == "1" and out["metadata"]["name"] == "web"


def test_field_with_replace_strategy_is_replaced() -> None:
    pdb = {"spec": {"selector": {"matchLabels": {"a": "1"}, "matchExpressions": []}}}
    out = smp(
        pdb, {"spec": {"selector": {"matchLabels": {"b": "2"}}}}, "io.k8s.api.policy.v1.PodDisruptionBudget"
    )
    assert out["spec"]["selector"] == {"matchLabels": {"b": "2"}}


def test_new_subtree_loses_nulls_and_directives() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "c"}],
            "containers": [{"name": "c", "image": "i", "args": None}],
            "securityContext": {"runAsUser": None, "fsGroup": 2},
        }
    }
    out = smp(pod, patch, POD)
    assert out["spec"] == {"containers": [{"name": "c", "image": "i"}], "securityContext": {"fsGroup": 2}}


def test_configmap_data_merges_as_a_map() -> None:
    cm = {"data": {"a": "1", "b": "2"}}
    out = smp(cm, {"data": {"b": None, "c": "3"}}, "io.k8s.api.core.v1.ConfigMap")
    assert out["data"] == {"a": "1", "c": "3"}


def test_undescribed_fields_fall_back_to_merge_patch_semantics() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"extra": {"list": [1, 2], "keep": 1}}}
    out = smp(pod, {"spec": {"extra": {"list": [3]}}}, POD)
    assert out["spec"]["extra"] == {"list": [3], "keep": 1}


def test_inputs_are_not_mutated() -> None:
    live = live_deployment()
    patch = {
        "metadata": {"labels": {"app": None}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}],
                    "containers": [
                        {"name": "app", "image": "z", "env": [{"name": "A", "$patch": "delete"}]},
                        {"name": "sidecar", "$patch": "delete"},
                    ],
                }
            }
        },
    }
    live_before, patch_before = copy.deepcopy(live), copy.deepcopy(patch)
    out = smp(live, patch)
    assert live == live_before and patch == patch_before
    pod_spec(out)["containers"][0]["image"] = "mutated"
    assert pod_spec(live)["containers"][0]["image"] == "nginx:1.25"


def test_missing_merge_key_is_an_error() -> None:
    with pytest.raises(PatchError, match="does not contain declared merge key: name"):
        smp(live_deployment(), {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})


def test_merge_directive_inside_list_is_refused() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}}
    with pytest.raises(PatchError, match="merging lists cannot yet be specified in the patch"):
        smp(live_deployment(), patch)


def test_unknown_directive_is_refused() -> None:
    with pytest.raises(PatchError, match="unknown patch type: bogus in map"):
        smp(live_deployment(), {"spec": {"$patch": "bogus"}})


def test_set_element_order_inconsistent_with_patch_list_is_refused() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}],
                    "containers": [{"name": "other", "image": "x"}],
                }
            }
        }
    }
    with pytest.raises(PatchError, match="doesn't match \\$setElementOrder list"):
        smp(live_deployment(), patch)


@pytest.mark.parametrize("definition", ["", "com.example.v1.Widget"])
def test_types_without_schema_refuse_strategic_merge_with_415(definition: str) -> None:
    with pytest.raises(PatchError) as info:
        smp({"spec": {}}, {"spec": {"a": 1}}, definition)
    assert info.value.status == 415
    assert "application/merge-patch+json" in str(info.value)

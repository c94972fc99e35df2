"""Path building, the error tree and retry timing of the client (client/resources.py,
client/errors.py, client/retry.py).

Covers the three Arktos scopes in long (tenant) and short form, core and grouped resources,
subresources, refusal of unsafe segments; the mapping of HTTP codes and Status reasons to
exceptions (AlreadyExists vs Conflict, 5xx, non-Status bodies); Retry-After parsing and backoff
bounds. Leaves out sending requests (test/component/test_client_runtime.py).
"""

from __future__ import annotations

import orjson
import pytest

from client import errors
from client.resources import CLUSTER_ROLES, CONFIGMAPS, NAMESPACES, TENANTS, ResourceRef, resource_path
from client.retry import RetryPolicy, parse_retry_after
from server.resources.builtin import builtin_catalogue

DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")


@pytest.mark.parametrize("ref, kwargs, expected", [
    (CONFIGMAPS, {"tenant": "acme", "namespace": "default", "name": "web"},
     "/api/v1/tenants/acme/namespaces/default/configmaps/web"),
    (CONFIGMAPS, {"namespace": "default", "name": "web"}, "/api/v1/namespaces/default/configmaps/web"),
    (CONFIGMAPS, {"tenant": "acme"}, "/api/v1/tenants/acme/configmaps"),
    (CONFIGMAPS, {"tenant": "all"}, "/api/v1/tenants/all/configmaps"),
    (CONFIGMAPS, {}, "/api/v1/configmaps"),
    (NAMESPACES, {"tenant": "acme", "name": "kube-system"}, "/api/v1/tenants/acme/namespaces/kube-system"),
    (TENANTS, {"name": "acme", "subresource": "finalize"}, "/api/v1/tenants/acme/finalize"),
    (CLUSTER_ROLES, {"tenant": "acme", "name": "admin-role"},
     "/apis/rbac.authorization.k8s.io/v1/tenants/acme/clusterroles/admin-role"),
    (DEPLOYMENTS, {"tenant": "t", "namespace": "n", "name": "d", "subresource": "scale"},
     "/apis/apps/v1/tenants/t/namespaces/n/deployments/d/scale"),
])
def test_paths_for_every_scope(ref: ResourceRef, kwargs: dict[str, str], expected: str) -> None:
    assert resource_path(ref, **kwargs) == expected


@pytest.mark.parametrize("bad", ["..", "a/b", "."])
def test_unsafe_segments_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        resource_path(CONFIGMAPS, namespace="n", name=bad)


def test_ref_from_the_catalogue() -> None:
    resource = builtin_catalogue().lookup("apps", "v1", "deployments")
    assert resource is not None
    assert ResourceRef.of(resource) == DEPLOYMENTS
    assert DEPLOYMENTS.api_version == "apps/v1" and str(DEPLOYMENTS) == "deployments.apps"


def _status(code: int, reason: str) -> bytes:
    return orjson.dumps({"kind": "Status", "status": "Failure", "code": code, "reason": reason,
                         "message": f"{reason} happened", "details": {"name": "x"}})


@pytest.mark.parametrize("code, reason, expected", [
    (404, "NotFound", errors.NotFound),
    (409, "AlreadyExists", errors.AlreadyExists),
    (409, "Conflict", errors.Conflict),
    (410, "Expired", errors.Gone),
    (422, "Invalid", errors.Unprocessable),
    (429, "TooManyRequests", errors.TooManyRequests),
    (401, "Unauthorized", errors.Unauthorized),
    (403, "Forbidden", errors.Forbidden),
    (503, "ServiceUnavailable", errors.ServerError),
    (418, "Teapot", errors.ApiError),
])
def test_statuses_become_exceptions(code: int, reason: str, expected: type[errors.ApiError]) -> None:
    error = errors.error_from_response(code, _status(code, reason))
    assert type(error) is expected
    assert error.code == code and error.reason == reason
    assert error.message == f"{reason} happened" and error.details == {"name": "x"}


def test_already_exists_is_also_a_conflict() -> None:
    assert isinstance(errors.error_from_response(409, _status(409, "AlreadyExists")), errors.Conflict)


def test_non_status_body_keeps_its_text() -> None:
    error = errors.error_from_response(502, b"bad gateway")
    assert isinstance(error, errors.ServerError) and error.message == "bad gateway"


def test_retry_after_and_backoff_bounds() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, max_retry_after=5.0)
    assert policy.delay(1, retry_after=2.0) == 2.0
    assert policy.delay(1, retry_after=100.0) == 5.0
    assert 0.05 <= policy.delay(1) <= 0.1
    assert 0.5 <= policy.delay(30) <= 1.0
    assert policy.should_retry(5) and not policy.should_retry(6)

"""Who is asking, and may they: authentication and authorization of every request.

Wires the authenticators (a front proxy's request headers, x509 client certificates, the static
token file, service-account tokens) and authorizers (node authorizer, then RBAC with Arktos's
tenant rule) to the watch cache, applies impersonation (server.impersonation) between the two,
and renders refusals as upstream does (401 ``Unauthorized``; 403 with the "User X cannot VERB
resource R ..." text). The plain port, opt-in and loopback-only, trusts its caller as upstream's
insecure port did, unless the request brings a bearer token.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509

from apis.catalogue import Resource
from server.auth.authenticator import Authenticator
from server.auth.requestheader import RequestHeaderAuthenticator
from server.auth.serviceaccounts import ServiceAccountTokens
from server.auth.tokens import TokenFile
from server.auth.user import ANONYMOUS, UserInfo
from server.auth.x509 import CertificateAuthorities
from server.authz.action_nodes import CacheActionNodes
from server.authz.attributes import Attributes, forbidden_message
from server.authz.chain import AuthorizerChain
from server.authz.node import NodeAuthorizer
from server.authz.rbac import RBACAuthorizer
from server.errors import Forbidden, NotFound, Unauthorized
from server.impersonation import asks_to_impersonate, impersonated_user, without_impersonation
from server.registry.catalogue import Catalogue
from server.registry.keys import SYSTEM_TENANT, Scope
from server.request_info import RequestInfo
from server.serving import SecurityConfig
from server.watchcache import ResourceCache, WatchCache

log = logging.getLogger(__name__)

# Upstream's insecure port skipped authentication and authorization altogether.
PLAIN_PORT_USER = UserInfo("system:admin", groups=("system:masters", "system:authenticated"),
                           tenant=SYSTEM_TENANT)


@functools.lru_cache(maxsize=4096)
def _certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


class CachePolicySource:
    """RBAC objects straight from the watch cache (``PolicySource`` of server.authz)."""

    def __init__(self, cache: WatchCache, catalogue: Catalogue) -> None:
        def segment(plural: str) -> ResourceCache:
            resource = catalogue.lookup("rbac.authorization.k8s.io", "v1", plural)
            assert resource is not None, plural
            return cache.resource(resource.key_segment)

        self._roles = segment("roles")
        self._cluster_roles = segment("clusterroles")
        self._role_bindings = segment("rolebindings")
        self._cluster_role_bindings = segment("clusterrolebindings")
        self._segments = (self._roles, self._cluster_roles, self._role_bindings,
                          self._cluster_role_bindings)

    @property
    def generation(self) -> int:
        return sum(s.revision for s in self._segments) + sum(len(s.objects) for s in self._segments)

    @staticmethod
    def _under(segment: ResourceCache, prefix: str) -> Iterable[dict[str, Any]]:
        return [c.obj for k, c in segment.objects.items() if k.startswith(prefix)]

    def roles(self, tenant: str, namespace: str) -> Iterable[dict[str, Any]]:
        return self._under(self._roles, f"/registry/{self._roles.segment}/{tenant}/{namespace}/")

    def role(self, tenant: str, namespace: str, name: str) -> dict[str, Any] | None:
        cached = self._roles.objects.get(f"/registry/{self._roles.segment}/{tenant}/{namespace}/{name}")
        return cached.obj if cached else None

    def cluster_roles(self, tenant: str) -> Iterable[dict[str, Any]]:
        return self._under(self._cluster_roles, f"/registry/{self._cluster_roles.segment}/{tenant}/")

    def cluster_role(self, tenant: str, name: str) -> dict[str, Any] | None:
        cached = self._cluster_roles.objects.get(
            f"/registry/{self._cluster_roles.segment}/{tenant}/{name}")
        return cached.obj if cached else None

    def role_bindings(self, tenant: str, namespace: str) -> Iterable[dict[str, Any]]:
        return self._under(self._role_bindings,
                           f"/registry/{self._role_bindings.segment}/{tenant}/{namespace}/")

    def cluster_role_bindings(self, tenant: str) -> Iterable[dict[str, Any]]:
        return self._under(self._cluster_role_bindings,
                           f"/registry/{self._cluster_role_bindings.segment}/{tenant}/")


_NODE_NAME_INDEX = "spec.nodeName"


class CacheNodeGraph:
    """Pods by node name, from an index on the pods cache (``NodeGraph`` of server.authz)."""

    def __init__(self, cache: WatchCache, catalogue: Catalogue) -> None:
        pods = catalogue.lookup("", "v1", "pods")
        assert pods is not None
        self._pods = cache.resource(pods.key_segment)
        self._pods.add_index(
            _NODE_NAME_INDEX, lambda obj: [n] if (n := (obj.get("spec") or {}).get("nodeName")) else [])

    def pods_on_node(self, node: str) -> Iterable[dict[str, Any]]:
        # Looked up per call: a cache (re)load replaces the Index objects, so a reference kept
        # from add_index() would stay empty after the first load.
        objects = self._pods.objects
        index = self._pods.indexes[_NODE_NAME_INDEX]
        return [objects[k].obj for k in index.keys(node) if k in objects]


class AccessControl:
    def __init__(self, config: SecurityConfig, *, cache: WatchCache, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        self._cache = cache
        service_accounts = catalogue.lookup("", "v1", "serviceaccounts")
        assert service_accounts is not None
        self._service_accounts = cache.resource(service_accounts.key_segment)
        self.tokens = _service_account_tokens(config)
        self._request_header = RequestHeaderAuthenticator(config.request_header) \
            if config.request_header is not None else None
        self._authenticator = Authenticator(
            token_file=TokenFile.load(config.token_auth_file) if config.token_auth_file else None,
            sa_tokens=self.tokens, sa_lookup=self._service_account_uid,
            request_header=self._request_header, client_authorities=_client_authorities(config))
        self.rbac = RBACAuthorizer(CachePolicySource(cache, catalogue))
        self.authorizer = AuthorizerChain(self.rbac, NodeAuthorizer(
            CacheNodeGraph(cache, catalogue), actions=CacheActionNodes(cache, catalogue)))

    def _service_account_uid(self, tenant: str, namespace: str, name: str) -> str | None:
        cached = self._service_accounts.objects.get(
            f"/registry/{self._service_accounts.segment}/{tenant}/{namespace}/{name}")
        return cached.obj["metadata"].get("uid") if cached else None

    def service_account(self, tenant: str, namespace: str, name: str) -> dict[str, Any]:
        cached = self._service_accounts.objects.get(
            f"/registry/{self._service_accounts.segment}/{tenant}/{namespace}/{name}")
        if cached is None:
            raise NotFound.object("serviceaccounts", name)
        return cached.obj

    def user_for_token(self, token: str) -> UserInfo | None:
        """Who a bearer token stands for (TokenReview), or None."""
        try:
            user = self._authenticator.authenticate(peer_cert=None,
                                                    authorization_header=f"Bearer {token}")
        except Unauthorized:
            return None
        return None if user.name == ANONYMOUS.name else user

    # -- authentication ---------------------------------------------------------------------------
    def authenticate(self, request: web.BaseRequest) -> tuple[web.BaseRequest, UserInfo]:
        """Who asks, and the request as the rest of the chain sees it: without a front proxy's
        identity headers, read (trusted proxy) or not (anyone else), as upstream clears them."""
        user = self._authenticated_user(request)
        if self._request_header is not None:
            stripped = self._request_header.without_headers(request.headers)
            if stripped is not None:
                request = request.clone(headers=stripped)
        return request, user

    def _authenticated_user(self, request: web.BaseRequest) -> UserInfo:
        header = request.headers.get("Authorization")
        if not request.secure:
            if header:
                return self._authenticator.authenticate(peer_cert=None, authorization_header=header)
            return PLAIN_PORT_USER
        user = self._authenticator.authenticate(peer_cert=_peer_certificate(request),
                                                authorization_header=header, headers=request.headers)
        if user is ANONYMOUS or user.name == ANONYMOUS.name:
            raise Unauthorized("Unauthorized")
        return user

    def impersonate(self, request: web.BaseRequest, requester: UserInfo) -> tuple[web.BaseRequest, UserInfo]:
        """The request as the handlers see it and who it acts as: with ``Impersonate-*`` headers,
        the identity they name once the requester may impersonate it (server.impersonation), and
        a copy of the request without those headers; otherwise both unchanged."""
        if not asks_to_impersonate(request.headers):
            return request, requester
        acting_as = impersonated_user(request.headers, requester, allowed=self.allowed)
        if acting_as is None:
            return request, requester
        log.debug("%s (tenant %s) is impersonating %s (tenant %s)", requester.name, requester.tenant,
                  acting_as.name, acting_as.tenant)
        return request.clone(headers=without_impersonation(request.headers)), acting_as

    # -- authorization ----------------------------------------------------------------------------
    def authorize_resource(self, user: UserInfo, info: RequestInfo, resource: Resource,
                           scope: Scope, *, field_selector: str = "") -> None:
        if self.authorizer.allows_everything(user):
            return  # the chain's first answer, without building the attributes it would not read
        attributes = Attributes(
            user=user, verb=info.verb, resource_request=True, api_group=resource.group,
            api_version=resource.version, resource=resource.plural, subresource=info.subresource,
            name=info.name, namespace=scope.namespace, tenant=scope.tenant, path=info.path,
            field_selector=field_selector)
        if self.allowed(attributes):
            return
        raise Forbidden(forbidden_message(attributes),
                        details={"name": info.name, "group": resource.group, "kind": resource.plural})

    def authorize_path(self, user: UserInfo, info: RequestInfo) -> None:
        attributes = Attributes(user=user, verb=info.verb, resource_request=False,
                                tenant=info.tenant, path=info.path)
        if self.allowed(attributes):
            return
        raise Forbidden(f'forbidden: User "{user.name}" cannot {info.verb} path "{info.path}"',
                        details={})

    def allowed(self, attributes: Attributes) -> bool:
        return self.authorizer.authorize(attributes).allowed


def _peer_certificate(request: web.BaseRequest) -> x509.Certificate | None:
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return _certificate(der) if der else None


def _client_authorities(config: SecurityConfig) -> CertificateAuthorities | None:
    """The client CA's certificates, when the TLS layer also accepts the request-header CA's: then
    the x509 authenticator must check a certificate's issuer itself (upstream verifies each CA
    pool separately)."""
    if config.request_header is None:
        return None
    if not config.client_ca_file:
        return CertificateAuthorities(())  # no client CA: no certificate is an x509 identity
    return CertificateAuthorities.load(Path(config.client_ca_file))


def _service_account_tokens(config: SecurityConfig) -> ServiceAccountTokens | None:
    if not config.service_account_signing_key_file and not config.service_account_key_files:
        return None
    signing = Path(config.service_account_signing_key_file).read_bytes() \
        if config.service_account_signing_key_file else None
    public = [Path(p).read_bytes() for p in config.service_account_key_files]
    return ServiceAccountTokens(signing_key_pem=signing, public_keys_pem=public,
                                issuer=config.service_account_issuer)

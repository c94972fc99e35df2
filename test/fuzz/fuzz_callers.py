"""HTTPS sessions of the fuzz suite's identities (kept out of conftest.py so that test modules can
import `Caller` by a unique module name: the e2e and component directories have a conftest too).

Schemathesis speaks through ``requests``; each identity's session presents its client
certificate through the same ``ssl.SSLContext`` the e2e suite builds (cluster CA + certificate).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenancy_env import Identity, TenancyEnv


@dataclass
class Caller:
    """One identity's HTTPS session against the fuzz cluster."""

    label: str
    tenant: str
    base_url: str
    session: requests.Session
    context: ssl.SSLContext  # for raw sockets (what requests cannot send)
    port: int


class _ContextAdapter(HTTPAdapter):
    """Uses the identity's ssl.SSLContext (cluster CA + client certificate) as the e2e suite does:
    urllib3's own context is stricter (X.509 strict mode) than the test PKI needs to be."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


def https_session(env: TenancyEnv, identity: Identity) -> requests.Session:
    assert identity.cert_file is not None and identity.key_file is not None, identity
    session = requests.Session()
    session.mount("https://", _ContextAdapter(env.ssl_context(identity)))
    return session

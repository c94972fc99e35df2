"""Fixtures of the fuzz suite: its own multi-tenant cluster, and HTTPS sessions per identity.

The fuzzers create, patch and delete whatever they can — collections of namespaces and tenants
included — so they get a cluster nobody else uses: a TLS API server and the controller manager
built with the e2e suite's `tenancy_env` helpers, tenant ``acme`` created with stock kubectl and
initialised by the controllers (the real tenant flow), and its ``admin`` holding a client
certificate from the real ``hack/setup-tenant-user.sh``. The system admin is ``system:admin``
(``O=system:masters``), as arktos-up's admin kubeconfig. Each identity speaks through a
``requests`` session (schemathesis's transport, `fuzz_callers`) with its client certificate.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from apiserver_process import log_tail
from fuzz_callers import Caller, https_session
from tenancy_env import TenancyEnv, tenancy_cluster

TENANT = "acme"


@pytest.fixture(scope="session")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenancyEnv]:
    with tenancy_cluster(tmp_path_factory.mktemp("fuzz"), tenants=(TENANT,)) as env:
        yield env


@pytest.fixture(scope="session")
def callers(fuzz_env: TenancyEnv) -> Iterator[dict[str, Caller]]:
    """``tenant`` (acme's admin, certificate) and ``admin`` (system:admin, certificate)."""
    made = {}
    for label, tenant, identity in (("tenant", TENANT, fuzz_env.identity(f"{TENANT}-cert-admin")),
                                    ("admin", "system", fuzz_env.admin)):
        made[label] = Caller(label, tenant, fuzz_env.server.url, https_session(fuzz_env, identity),
                             fuzz_env.ssl_context(identity), fuzz_env.server.port)
    yield made
    for caller in made.values():
        caller.session.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed fuzz test carries the end of the fuzz server's log (its tracebacks)."""
    report = yield
    env = getattr(item, "funcargs", {}).get("fuzz_env")
    if report.failed and isinstance(env, TenancyEnv):
        tail = log_tail(env.server.log_path, max_lines=80)
        report.sections.append(("fuzz kube-apiserver log (tail)", tail))
    return report

"""Schemathesis over every operation of the server's own /openapi/v3, as a tenant user and as the
system admin: no 5xx, no dropped connection, no hang, every error a Kubernetes Status.

Covers: all group-versions the server lists (operations, query parameters and bodies as
`server.schema.openapi` declares them), schema-valid cases for every operation and schema-invalid bodies
for the body operations (see `openapi_fuzzer`), with a fixed seed; the number of cases is
printed. The tenant fuzz runs first: the admin's may delete every namespace and tenant. Leaves
out: subresources and paths the OpenAPI documents do not list (the hand-written hostile inputs
and test/component/test_api_errors.py's random requests reach those), and stateful sequences.
"""

from __future__ import annotations

import pytest
from fuzz_callers import Caller
from openapi_fuzzer import Fuzzer, FuzzReport, served_documents

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

EXAMPLES_PER_OPERATION = 3


def _fuzz(caller: Caller, admin: Caller, capsys: pytest.CaptureFixture[str]) -> FuzzReport:
    # The admin's documents list every operation; a tenant's view leaves the cluster-scoped out,
    # and those are exactly the ones a tenant must be refused.
    documents = served_documents(admin.session, admin.base_url)
    fuzzer = Fuzzer(caller.base_url, caller.session, FuzzReport(caller.label),
                    examples=EXAMPLES_PER_OPERATION)
    report = fuzzer.run(documents)
    with capsys.disabled():
        print(f"\n{report.summary()}")
    return report


def _assert_clean(report: FuzzReport) -> None:
    assert report.operations >= 300, report.summary()
    assert not report.uncovered, f"operations that got no case: {report.uncovered}"
    assert not report.failures, "\n".join([report.summary(), *report.failures[:20]])
    assert report.cases >= 2 * report.operations, report.summary()


def test_fuzz_as_tenant_user(callers: dict[str, Caller], capsys: pytest.CaptureFixture[str]) -> None:
    report = _fuzz(callers["tenant"], callers["admin"], capsys)
    _assert_clean(report)
    assert report.codes[403] > 0, "cluster-scoped operations are forbidden to a tenant"


def test_fuzz_as_system_admin(callers: dict[str, Caller], capsys: pytest.CaptureFixture[str]) -> None:
    _assert_clean(_fuzz(callers["admin"], callers["admin"], capsys))

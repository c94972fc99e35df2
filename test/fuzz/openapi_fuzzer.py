"""Schemathesis over every operation the server's own ``/openapi/v3`` declares, driven directly.

Schemathesis's pytest plugin makes one test item per operation and wants a schema at import
time; here the schema is the running server's, fetched per group-version, and each operation's
case strategy (``APIOperation.as_strategy``) is drawn by Hypothesis with a fixed seed
(``derandomize``), no example database and no shrinking, so a CI run repeats exactly. Every
operation gets schema-valid cases (``POSITIVE``); body operations also get schema-*invalid* ones
(``NEGATIVE``), except those whose body embeds a pod template, where Hypothesis spends tens of
seconds per operation rejecting candidates (their decoding shares one code path with the small
kinds, which are fuzzed negatively).

Each answer is checked (`problem_with`): no 5xx, a complete answer within the timeout (no dropped
connection, no hang), and every error a Kubernetes ``Status`` whose code is the HTTP status.
Watches are cut to one second (``timeoutSeconds=1``) so that they end; bodies declared ``*/*``
are sent as JSON (see `_prepare`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

REQUEST_TIMEOUT_S = (10.0, 30.0)  # connect, read: far beyond any healthy answer here
# Resources whose bodies hold a pod template: negative generation costs tens of seconds each.
POD_TEMPLATE_CARRIERS = frozenset({"podtemplates", "replicationcontrollers", "deployments", "replicasets",
                                   "statefulsets", "daemonsets", "jobs", "cronjobs"})
BODY_METHODS = frozenset({"post", "put", "patch"})
SERVED_BODY_TYPES = frozenset({"application/json", "application/yaml", "application/json-patch+json",
                               "application/merge-patch+json", "application/strategic-merge-patch+json",
                               "application/apply-patch+yaml", None})


class FuzzFailure(AssertionError):
    """One answer that broke a rule (the message says which, and what was sent)."""


@dataclass
class FuzzReport:
    """What one fuzz run sent and got back."""

    label: str
    cases: int = 0
    operations: int = 0
    codes: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(self.codes.items()))
        return (f"fuzz as {self.label}: {self.cases} cases over {self.operations} operations in "
                f"{self.seconds:.0f}s ({codes}); {len(self.failures)} failures")


def problem_with(response: requests.Response) -> str | None:
    """Why this answer breaks the suite's rules, or None."""
    if response.status_code >= 500:
        return f"server error {response.status_code}"
    if response.status_code < 400:
        return None
    try:
        status = response.json()
    except ValueError:
        return f"error {response.status_code} is not JSON"
    if not isinstance(status, dict) or status.get("kind") != "Status" or status.get("apiVersion") != "v1":
        return f"error {response.status_code} is not a v1 Status"
    if status.get("status") != "Failure" or status.get("code") != response.status_code:
        return f"Status code/status do not match HTTP {response.status_code}"
    if not isinstance(status.get("reason"), str) or not isinstance(status.get("message"), str):
        return "Status without reason or message"
    return None


def _describe(case: Any) -> str:
    body = "" if case.body is None else repr(case.body)[:400]
    return f"{case.method} {case.formatted_path} query={case.query} media={case.media_type} body={body}"


def _prepare(case: Any) -> None:
    """Watches end after a second; a body upstream declares as ``*/*`` goes as JSON, as clients
    send it (schemathesis picks any concrete type for the wildcard — image/webp, text/plain —
    and the 415s would crowd out the cases that reach the decoder; test_api_errors covers 415)."""
    query = dict(case.query or {})
    if str(query.get("watch", "")).lower() in ("true", "1"):
        query["timeoutSeconds"] = 1
        case.query = query
    if case.media_type not in SERVED_BODY_TYPES:
        case.media_type = "application/json"


def _modes(operation: Any) -> tuple[GenerationMode, ...]:
    resource = [part for part in operation.path.split("/") if part and not part.startswith("{")][-1]
    if operation.method in BODY_METHODS and resource not in POD_TEMPLATE_CARRIERS:
        return (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return (GenerationMode.POSITIVE,)


@dataclass
class Fuzzer:
    """Sends generated cases for every operation as one identity, recording what came back."""

    base_url: str
    session: requests.Session
    report: FuzzReport
    examples: int = 4

    def run(self, documents: Iterable[dict[str, Any]]) -> FuzzReport:
        started = time.monotonic()
        for document in documents:
            schema = schemathesis.openapi.from_dict(document)
            for result in schema.get_all_operations():
                self._operation(result.ok())
        self.report.seconds = time.monotonic() - started
        return self.report

    def _operation(self, operation: Any) -> None:
        self.report.operations += 1
        before = self.report.cases
        for mode in _modes(operation):
            try:
                self._draw(operation, mode)
            except Unsatisfiable:
                pass  # no case of this mode exists (e.g. no invalid value for a free string)
            except FuzzFailure as failure:
                self.report.failures.append(f"{operation.label} ({mode.value}): {failure}")
        if self.report.cases == before:
            self.report.uncovered.append(operation.label)

    def _draw(self, operation: Any, mode: GenerationMode) -> None:
        @settings(max_examples=self.examples, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                  verbosity=hypothesis.Verbosity.quiet)
        @given(case=operation.as_strategy(generation_mode=mode))
        def send(case: Any) -> None:
            _prepare(case)
            try:
                response = case.call(base_url=self.base_url, session=self.session, timeout=REQUEST_TIMEOUT_S)
            except requests.Timeout as e:
                raise FuzzFailure(f"no answer within {REQUEST_TIMEOUT_S[1]}s: {_describe(case)}") from e
            except requests.ConnectionError as e:
                raise FuzzFailure(f"connection dropped ({e}): {_describe(case)}") from e
            self.report.cases += 1
            self.report.codes[response.status_code] += 1
            problem = problem_with(response)
            if problem is not None:
                raise FuzzFailure(f"{problem}: {_describe(case)} -> {response.text[:600]}")

        send()


def served_documents(session: requests.Session, base_url: str) -> list[dict[str, Any]]:
    """Every group-version document the server lists at ``/openapi/v3``."""
    index = session.get(f"{base_url}/openapi/v3", timeout=REQUEST_TIMEOUT_S)
    index.raise_for_status()
    documents = []
    for entry in index.json()["paths"].values():
        answer = session.get(base_url + entry["serverRelativeURL"], timeout=REQUEST_TIMEOUT_S)
        answer.raise_for_status()
        documents.append(answer.json())
    return documents

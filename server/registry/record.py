"""One record per served resource: its names and every piece of its behaviour, declared once.

A `ResourceRecord` is a `Resource` (names, scope, verbs, subresources: what discovery publishes)
plus what upstream spreads over a resource's ``pkg/registry/<group>/<resource>`` package and the
scheme: the strategy class the generic store runs (prepare, validate, canonicalize; the status
sibling follows from it), the defaulter (upstream's ``SetDefaults_*``), the semantic rules a schema
cannot say and the name rule, the table printer, the selectable fields, the facts admission
plugins go by, the handler of each subresource and — for resources that are not stored (reviews)
— the handler of the resource itself. Definitions a record brings along (a resource added at run
time, later a CRD) join the server's schemas while it is served.

Built-in records are in `server.resources.builtin`; a server's `Catalogue` holds the records it
serves and can change while it runs. Records compare by identity: two declarations of the same
names are two different records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apis.catalogue import Resource, Subresource
from apis.field_errors import FieldError
from apis.schemas import Schema
from apis.selectors.fields import Extractor
from server.printing.printers import Printer
from server.registry.strategy import Strategy
from server.schema.name_rules import NameCheck, dns1123_subdomain_errors

if TYPE_CHECKING:
    from server.registry.rest.interface import RestContext

Obj = dict[str, Any]
Defaulter = Callable[[Obj], None]
Rule = Callable[[Obj], list[FieldError]]
# Builds the handler of a subresource (or of a resource that is not stored) for one server.
RestFactory = Callable[["ResourceRecord", "RestContext"], object]


@dataclass(frozen=True, slots=True)
class SubresourceRecord(Subresource):
    """A subresource as discovery shows it, and the handler that serves it (None: declared, as
    upstream declares it, but not served here: every verb is answered 405)."""

    rest: RestFactory | None = None


@dataclass(frozen=True, slots=True)
class AdmissionFacts:
    """What admission plugins need to know about a resource beyond its names."""

    # Where the pod template sits in an object (upstream PodSecurity's PodSpecExtractor): warn and
    # audit of pod templates; None for resources without one.
    pod_template: tuple[str, ...] | None = None
    # Arktos's SystemDaemonSet admission: only the system tenant may create these.
    system_tenant_only: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class ResourceRecord(Resource):
    """A served resource: its names (`Resource`) and its behaviour."""

    strategy: type[Strategy] = Strategy
    defaulter: Defaulter | None = None
    rules: tuple[Rule, ...] = ()
    name_check: NameCheck = dns1123_subdomain_errors
    # None: upstream's DefaultTableConvertor (Name, Created At).
    printer: Printer | None = None
    # Fields beyond metadata.name/namespace/tenant/hashkey; None: only those (upstream's
    # DefaultMetaV1FieldSelectorConversion).
    selectable_fields: Mapping[str, Extractor] | None = None
    admission: AdmissionFacts = AdmissionFacts()
    # The handler of the resource itself when it is not kept in the generic store (reviews).
    rest: RestFactory | None = None
    # OpenAPI definitions this record brings (name -> JSON schema), served while it is.
    schemas: Mapping[str, Schema] = field(default_factory=dict)

    # Identity, not field equality: a record is one declaration (and holds unhashable mappings).
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def subresource(self, name: str) -> SubresourceRecord | None:
        for sub in self.subresources:
            if sub.name == name and isinstance(sub, SubresourceRecord):
                return sub
        return None

    @property
    def stored(self) -> bool:
        """Whether objects of this resource are kept (reviews only answer)."""
        return self.rest is None

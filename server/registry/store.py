"""The one generic store that serves every resource: create, update, patch, delete.

Modelled on k8s.io/apiserver registry/generic/registry/store.go, much smaller. A resource brings
its record (`server.registry.record`): strategy, defaulter, rules. A write is decoded and checked
against the schema, defaulted, passes admission's mutating phase, is prepared and validated by the
strategy, passes admission's validating phase and is stored (upstream's order). Writes go to the
revisioned storage backend guarded by the expected
mod-revision; an update that lost a race is retried against the latest revision (upstream's
GuaranteedUpdate) unless the client pinned a resourceVersion. After a write the store waits for
the watch cache to reach the write's revision, so every later read sees it. Storage and
validation errors become API errors here, and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from apis.catalogue import Resource
from apis.field_errors import FieldError, go_quote
from server.auth.user import UserInfo
from server.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    InternalError,
    Invalid,
    NotFound,
    Timeout,
    success_status,
)
from server.registry.admission.chain import AdmissionChain
from server.registry.admission.interface import AdmissionRequest, AdmissionResult
from server.registry.catalogue import Catalogue, CatalogueChange
from server.registry.keys import Scope, object_key
from server.registry.objects import (
    carry_over_for_update,
    check_type,
    deletion_time,
    encoded_object,
    metadata_of,
    prune_paths,
    stamp_for_create,
)
from server.registry.record import ResourceRecord
from server.registry.strategy import StatusStrategy, Strategy
from server.registry.write_hooks import WriteHooks, nothing_to_finish
from server.schema import validation
from server.storage.interface import (
    Backend,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionConflictError,
)
from server.storage.keys import segment_of
from server.watchcache import CachedObject, WatchCache, decode

log = logging.getLogger(__name__)

Mutation = Callable[[dict[str, Any]], dict[str, Any]]
_TRUSTED = validation.SchemaReport()
# Upstream's GuaranteedUpdate retries until the write lands (or the request times out): every
# lost attempt means another writer landed, so N writers racing for one object need at most N
# attempts each. The cap only stops a bug from looping until the request deadline.
_MAX_RETRIES = 1024


@dataclass(frozen=True, slots=True)
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore (upstream default: Warn)
    # Who asks: admission decides by it (RBAC escalation); None for the server's own writes.
    user: UserInfo | None = None


class WriteResult:
    """What a write answers: the object (or a Status), its HTTP code, warnings, audit notes.

    A stored object comes as ``raw``, the bytes a read now serves (shared with the watch cache);
    ``obj`` is then decoded from them on first use, so the caller owns that dict and may change
    it, and an HTTP answer that only sends the bytes never decodes them.
    """

    __slots__ = ("_obj", "audit_annotations", "code", "raw", "warnings")

    def __init__(self, obj: dict[str, Any] | None, code: int = 200, warnings: list[str] | None = None,
                 audit_annotations: dict[str, str] | None = None, *, raw: bytes = b"") -> None:
        assert obj is not None or raw
        self._obj = obj
        self.raw = raw
        self.code = code
        self.warnings = [] if warnings is None else warnings
        # Admission's notes for the audit log (e.g. pod-security.kubernetes.io/audit-violations).
        self.audit_annotations = {} if audit_annotations is None else audit_annotations

    @property
    def obj(self) -> dict[str, Any]:
        if self._obj is None:
            self._obj = orjson.loads(self.raw)
        return self._obj


@dataclass(frozen=True, slots=True)
class _Update:
    """What one `GenericStore.guaranteed_update` call asks, for each of its attempts."""

    resource: ResourceRecord
    scope: Scope
    name: str
    key: str
    mutate: Mutation
    strategy: Strategy
    subresource: str
    options: WriteOptions
    check_unknown: bool
    trusted: bool


@dataclass(frozen=True, slots=True)
class _Base:
    """The object an update attempt starts from: the store's latest value (``kv`` set), or the
    watch cache's copy, a guess that may be behind the store (``kv`` None)."""

    current: CachedObject
    kv: KeyValue | None

    @classmethod
    def of(cls, kv: KeyValue) -> _Base:
        return cls(decode(kv), kv)

    @property
    def revision(self) -> int:
        return self.current.revision

    @property
    def stale(self) -> bool:
        return self.kv is not None and self.kv.stale


class GenericStore:
    """Creates, updates and deletes objects of any declared resource."""

    def __init__(self, backend: Backend, cache: WatchCache, *, admission: AdmissionChain,
                 validators: validation.Validators, catalogue: Catalogue) -> None:
        self._backend = backend
        self._cache = cache
        self._admission = admission
        self._validators = validators
        self._strategies: dict[ResourceRecord, Strategy] = {}
        self._status_strategies: dict[ResourceRecord, StatusStrategy] = {}
        self._hooks: dict[tuple[str, str], WriteHooks] = {}
        catalogue.subscribe(self._forget)

    def set_write_hooks(self, group: str, plural: str, hooks: WriteHooks) -> None:
        """Run ``hooks`` around every write of the resource (upstream's BeginCreate, BeginUpdate,
        AfterDelete): Services allocate their addresses and node ports so."""
        self._hooks[(group, plural)] = hooks

    def _hooks_of(self, resource: Resource) -> WriteHooks | None:
        return self._hooks.get((resource.group, resource.plural)) if self._hooks else None

    def _forget(self, change: CatalogueChange) -> None:
        for record in change.removed:
            self._strategies.pop(record, None)
            self._status_strategies.pop(record, None)

    def strategy(self, resource: ResourceRecord, subresource: str = "") -> Strategy:
        main = self._strategies.get(resource)
        if main is None:
            main = self._strategies[resource] = resource.strategy(resource)
        if subresource != "status":
            return main
        status = self._status_strategies.get(resource)
        if status is None:
            status = self._status_strategies[resource] = StatusStrategy(main)
        return status

    # -- reads ------------------------------------------------------------------------------------
    def get(self, resource: Resource, scope: Scope, name: str) -> CachedObject:
        key = object_key(resource, scope, name)
        cache = self._cache.resource(resource.key_segment)
        cached = cache.objects.get(key)
        if cached is None:
            unreadable = cache.unreadable.get(key)
            if unreadable:  # stored, but not decryptable with the configured keys
                raise InternalError.occurred(unreadable)
            raise NotFound.object(resource.plural, name, resource.group)
        return cached

    async def _read_latest(self, resource: Resource, key: str, name: str) -> KeyValue:
        kv = await self._backend.get(key)
        if kv is None:
            raise NotFound.object(resource.plural, name, resource.group)
        if kv.unreadable:
            raise InternalError.occurred(kv.unreadable)
        return kv

    # -- create -----------------------------------------------------------------------------------
    async def create(self, resource: ResourceRecord, scope: Scope, body: Any,
                     options: WriteOptions) -> WriteResult:
        obj = self._decode_body(resource, body)
        report = self._validators.inspect(resource, obj)
        self._raise_type_errors(resource, report)
        warnings = self._handle_unknown_fields(resource, obj, report, options)
        stamp_for_create(resource, scope, obj)
        if resource.defaulter is not None:
            resource.defaulter(obj)
        request = AdmissionRequest("CREATE", resource, scope, obj, user=options.user, dry_run=options.dry_run)
        admitted = await self._admission.admit(request)
        name = obj["metadata"].get("name", "")
        strategy = self.strategy(resource)
        strategy.prepare_for_create(obj)
        self._raise_invalid(resource, name, [*report.errors, *strategy.validate(obj)])
        hooks = self._hooks_of(resource)
        finish = nothing_to_finish if hooks is None else \
            await hooks.begin_create(obj, dry_run=options.dry_run)
        try:
            admitted.add(await self._admission.validate(request))
            warnings += admitted.warnings
            strategy.canonicalize(obj)
            if options.dry_run:
                await finish(False)
                return WriteResult(obj, 201, warnings, admitted.audit_annotations)
            key = object_key(resource, scope, name)
            try:
                revision = await self._write(key, obj, expected_revision=None)
            except KeyExistsError as e:
                raise AlreadyExists.object(resource.plural, name, resource.group) from e
        except ApiError:
            # Refused before anything was stored: give back what the hooks took. Other failures
            # (a storage timeout, a cancelled request) may have stored the object after all; what
            # they took stays, and the repair loop frees it if no object holds it.
            await finish(False)
            raise
        await finish(True)
        return WriteResult(None, 201, warnings, admitted.audit_annotations,
                           raw=await self._served(key, obj, revision))

    # -- update and patch -------------------------------------------------------------------------
    async def update(self, resource: ResourceRecord, scope: Scope, name: str, body: Any, *,
                     subresource: str = "", options: WriteOptions) -> WriteResult:
        obj = self._decode_body(resource, body)
        report = self._validators.inspect(resource, obj)
        self._raise_type_errors(resource, report)
        warnings = self._handle_unknown_fields(resource, obj, report, options)
        body_name = metadata_of(obj).get("name")
        if body_name and body_name != name:
            raise BadRequest(f"the name of the object ({body_name}) does not match the name on the "
                             f"URL ({name})")
        obj["metadata"]["name"] = name
        strategy = self.strategy(resource, subresource)
        # Only an update that may create needs to know first whether the object exists; for the
        # others guaranteed_update answers the same 404 from its own read.
        may_create = strategy.allow_create_on_update and not subresource
        if may_create and await self._backend.get(object_key(resource, scope, name)) is None:
            try:
                result = await self.create(resource, scope, obj, options)
            except AlreadyExists:
                pass  # lost a race with another creator: update what is there now
            else:
                result.warnings[:0] = warnings
                return result
        body = orjson.dumps(obj)
        result = await self.guaranteed_update(resource, scope, name, lambda _old: orjson.loads(body),
                                              subresource=subresource, options=options)
        result.warnings[:0] = warnings
        return result

    async def guaranteed_update(self, resource: ResourceRecord, scope: Scope, name: str, mutate: Mutation, *,
                                subresource: str = "", options: WriteOptions,
                                check_unknown: bool = False, strategy: Strategy | None = None,
                                trusted: bool = False) -> WriteResult:
        """Apply ``mutate`` to the latest stored object until the write lands (or is refused).

        ``mutate`` gets a private copy of the current object (with resourceVersion) and returns the
        desired object. A resourceVersion left in the result pins the write to that version.
        ``trusted`` mutations are the server's own (binding): they only set well-typed fields, so
        the schema check and defaulting of a client's body are skipped.

        The first attempt starts from the watch cache's copy, as upstream's GuaranteedUpdate takes
        the cached object as its first guess: only a write guarded by the guessed revision may land
        from it. Anything else the guess leads to (an error, a 409 for a pinned resourceVersion, an
        unchanged object, a dry run, a removal) is decided again from the store's latest value, so
        the answers are exactly those of an update that read the store first.
        """
        call = _Update(resource, scope, name, object_key(resource, scope, name), mutate,
                       strategy or self.strategy(resource, subresource), subresource, options,
                       check_unknown, trusted)
        key = call.key
        base = self._cached_base(resource, key)
        if base is None:
            base = _Base.of(await self._read_latest(resource, key, name))
        for _attempt in range(_MAX_RETRIES):
            try:
                result = await self._update_once(call, base)
            except ApiError:
                if base.kv is not None:
                    raise
                result = None  # the guess may be stale: decide from the store
            if result is not None:
                return result
            base = _Base.of(await self._read_latest(resource, key, name))
        raise Conflict.modified(resource.plural, name, resource.group)

    def _cached_base(self, resource: ResourceRecord, key: str) -> _Base | None:
        """The watch cache's copy of ``key`` as a first guess (None when the cache has none)."""
        cached = self._cache.resource(resource.key_segment).objects.get(key)
        return None if cached is None else _Base(cached, None)

    async def _update_once(self, call: _Update, base: _Base) -> WriteResult | None:
        """One attempt of `guaranteed_update` from ``base``; None: retry from the store's latest."""
        resource, name, options, trusted = call.resource, call.name, call.options, call.trusted
        # Copies by re-parsing the JSON: several times faster than copy.deepcopy here. Both copies
        # are private: ``base.current`` may be the watch cache's own object.
        new = call.mutate(orjson.loads(base.current.raw))
        current_obj = orjson.loads(base.current.raw)
        if not isinstance(new, dict):
            raise BadRequest("the object must be a JSON object")
        check_type(resource, new)
        report = _TRUSTED if trusted else self._validators.inspect(resource, new)
        self._raise_type_errors(resource, report)
        warnings = self._handle_unknown_fields(resource, new, report, options, strict=call.check_unknown)
        pinned = metadata_of(new).get("resourceVersion")
        if pinned and str(pinned) != str(base.revision):
            raise Conflict.modified(resource.plural, name, resource.group)
        self._check_uid(new, current_obj)
        carry_over_for_update(new, current_obj)
        new["metadata"]["name"] = name
        if not trusted and resource.defaulter is not None:
            resource.defaulter(new)
        admitted = await self._admitted_update(
            AdmissionRequest("UPDATE", resource, call.scope, new, current_obj, call.subresource, options.user,
                             options.dry_run),
            call.strategy, report.errors)
        warnings += admitted.warnings
        hooks = None if call.subresource else self._hooks_of(resource)
        finish = nothing_to_finish if hooks is None else \
            await hooks.begin_update(new, current_obj, dry_run=options.dry_run)
        try:
            result = await self._write_update(call, base, new, current_obj, warnings, admitted)
        except ApiError:
            await finish(False)
            raise
        # Only a stored write answers with the stored bytes (not a dry run, an unchanged object
        # or a removal, whose hooks ran in `_remove`).
        await finish(result is not None and bool(result.raw))
        return result

    async def _write_update(self, call: _Update, base: _Base, new: dict[str, Any],
                            current_obj: dict[str, Any], warnings: list[str],
                            admitted: AdmissionResult) -> WriteResult | None:
        """The write of one `_update_once` attempt (None: retry from the store's latest)."""
        resource, name, key, options = call.resource, call.name, call.key, call.options
        call.strategy.canonicalize(new)
        current_obj["metadata"].pop("resourceVersion", None)
        kv = base.kv
        # A stale value (read through an older encryption key) is written even when unchanged:
        # upstream's GuaranteedUpdate does so, and key rotation relies on it.
        if (new == current_obj and not base.stale) or options.dry_run:
            if kv is None:
                return None  # upstream re-reads before answering "unchanged" from a cached guess
            # A dry run answers what would be stored, at the version it would replace.
            served = new if options.dry_run else orjson.loads(base.current.raw)
            served["metadata"]["resourceVersion"] = str(base.revision)
            return WriteResult(served, 200, warnings, admitted.audit_annotations)
        if self._finalized(self.strategy(resource), new):
            return None if kv is None else await self._remove(resource, key, kv, options, name)
        try:
            revision = await self._write(key, new, expected_revision=base.revision)
        except RevisionConflictError:
            # Someone wrote first: decide again from the latest value, as upstream's
            # GuaranteedUpdate re-runs its update function. A client's own resourceVersion then
            # fails the pin above (409); a patch, whose version came from the object it was
            # applied to, re-applies to the newer object and lands.
            return None
        except KeyNotFoundError as e:
            raise NotFound.object(resource.plural, name, resource.group) from e
        return WriteResult(None, 200, warnings, admitted.audit_annotations,
                           raw=await self._served(key, new, revision))

    # -- delete -----------------------------------------------------------------------------------
    async def _admitted_update(self, request: AdmissionRequest, strategy: Strategy,
                               schema_errors: tuple[FieldError, ...]) -> AdmissionResult:
        """Admission's mutating phase, the strategy's preparation and validation, then admission's
        validating phase, for one attempt of an update."""
        new, old = request.obj, request.old
        assert old is not None
        admitted = await self._admission.admit(request)
        strategy.prepare_for_update(new, old)
        self._raise_invalid(request.resource, request.name,
                            [*schema_errors, *strategy.validate_update(new, old)])
        admitted.add(await self._admission.validate(request))
        return admitted

    async def delete(self, resource: ResourceRecord, scope: Scope, name: str, delete_options: dict[str, Any],
                     options: WriteOptions) -> WriteResult:
        strategy = self.strategy(resource)
        key = object_key(resource, scope, name)
        for _attempt in range(_MAX_RETRIES):
            kv = await self._read_latest(resource, key, name)
            current = decode(kv).obj
            reason = strategy.check_delete(current)
            if reason:
                raise Forbidden(f'{resource.group_resource} "{name}" is forbidden: {reason}',
                                details={"name": name, "group": resource.group, "kind": resource.plural})
            self._check_preconditions(delete_options, current)
            request = AdmissionRequest("DELETE", resource, scope, current, user=options.user,
                                       dry_run=options.dry_run)
            await self._admission.admit(request)
            await self._admission.validate(request)
            requested = delete_options.get("gracePeriodSeconds")
            grace = strategy.grace_period(current, None if requested is None else int(requested))
            _add_propagation_finalizer(current, delete_options)
            if strategy.pending_finalizers(current) or grace > 0:
                result = await self._mark_deleting(resource, key, kv, current, grace, options)
                if result is None:
                    continue
                # Upstream answers 202 only for an object left in place whose delete asked for
                # orphanDependents=false (handlers/delete.go); a lingering object is 200 otherwise.
                if delete_options.get("orphanDependents") is False:
                    result.code = 202
                return result
            if options.dry_run:
                return self._deleted_answer(resource, current)
            try:
                return await self._remove(resource, key, kv, options, name)
            except RevisionConflictError:
                continue
        raise Conflict.modified(resource.plural, name, resource.group)

    async def _mark_deleting(self, resource: ResourceRecord, key: str, kv: KeyValue, current: dict[str, Any],
                             grace: int, options: WriteOptions) -> WriteResult | None:
        """Graceful deletion: stamp deletionTimestamp and leave the object for its finalizers or
        its kubelet. None means the write lost a race (retry)."""
        metadata = current["metadata"]
        if "deletionTimestamp" in metadata and metadata.get("deletionGracePeriodSeconds", 0) <= grace:
            return WriteResult(decode(kv).obj, 200)
        when = deletion_time(datetime.now(UTC).replace(microsecond=0), grace)
        if "deletionTimestamp" in metadata:
            # Upstream BeforeDelete: a shorter grace period moves the deletionTimestamp earlier by
            # the difference (it stays "first delete request + grace").
            try:
                stamped = datetime.strptime(metadata["deletionTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
                shortened = int(metadata.get("deletionGracePeriodSeconds") or 0) - grace
                when = deletion_time(stamped.replace(tzinfo=UTC), -shortened)
            except (TypeError, ValueError):
                pass
        metadata["deletionTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        metadata["deletionGracePeriodSeconds"] = grace
        self.strategy(resource).prepare_for_delete(current)
        metadata.pop("resourceVersion", None)
        if options.dry_run:
            return WriteResult(current, 200)
        try:
            revision = await self._backend.update(key, orjson.dumps(current),
                                                  expected_revision=kv.mod_revision)
        except RevisionConflictError:
            return None
        return WriteResult(None, 200, raw=await self._served(key, current, revision))

    async def _remove(self, resource: ResourceRecord, key: str, kv: KeyValue, options: WriteOptions,
                      name: str) -> WriteResult:
        current = decode(kv).obj
        if options.dry_run:
            return self._deleted_answer(resource, current)
        try:
            deleted = await self._backend.delete(key, expected_revision=kv.mod_revision)
        except KeyNotFoundError as e:
            raise NotFound.object(resource.plural, name, resource.group) from e
        hooks = self._hooks_of(resource)
        if hooks is not None:
            await hooks.after_delete(decode(deleted).obj)
        await self._cache.wait_for(deleted.mod_revision)
        return self._deleted_answer(resource, decode(deleted).obj)

    def _deleted_answer(self, resource: ResourceRecord, obj: dict[str, Any]) -> WriteResult:
        if resource.returns_deleted_object:
            return WriteResult(obj, 200)
        metadata = obj.get("metadata", {})
        # Upstream's finalizeDelete: the resource (not the kind) in details.kind, no code.
        return WriteResult(success_status({"name": metadata.get("name", ""), "group": resource.group,
                                           "kind": resource.plural, "uid": metadata.get("uid", "")}), 200)

    # -- helpers ----------------------------------------------------------------------------------
    async def _write(self, key: str, obj: dict[str, Any], *, expected_revision: int | None) -> int:
        """Store ``obj`` (create it when ``expected_revision`` is None), handing its decoded form
        to the watch cache (`WatchCache.expect`): from here on ``obj`` is only read."""
        data = encoded_object(obj)
        self._cache.expect(key, data, obj)
        try:
            if expected_revision is None:
                return await self._backend.create(key, data)
            return await self._backend.update(key, data, expected_revision=expected_revision)
        except BaseException:
            self._cache.unexpect(key, data)
            raise

    async def _served(self, key: str, obj: dict[str, Any], revision: int) -> bytes:
        """The bytes a read returns for ``obj`` stored at ``revision``, once the cache has caught up.
        ``obj`` may belong to the cache by now: it is only read."""
        if not await self._cache.wait_for(revision):
            log.warning("watch cache is lagging behind revision %s", revision)
        cached = self._cache.resource(segment_of(key)).objects.get(key)
        if cached is not None and cached.revision == revision:
            return cached.raw
        # A later write replaced it already (or the cache lags): the object as it was stored.
        return orjson.dumps({**obj, "metadata": {**obj["metadata"], "resourceVersion": str(revision)}})

    @staticmethod
    def _decode_body(resource: Resource, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest(f"{resource.kind} in version \"{resource.version}\" cannot be handled as a "
                             f"{resource.kind}: the body must be a JSON object")
        check_type(resource, body)
        metadata_of(body)
        return body

    @staticmethod
    def _handle_unknown_fields(resource: Resource, obj: dict[str, Any], report: validation.SchemaReport,
                               options: WriteOptions, *, strict: bool = True) -> list[str]:
        """fieldValidation: Strict refuses unknown fields (400), Warn names them in Warning
        headers, Ignore drops them silently; stored objects never keep them (as upstream's
        decoder drops them). ``strict=False`` (an update whose body was already checked) only
        drops them."""
        if not report.unknown:
            return []
        # Quoted as Go's %q quotes them: a client's CR/LF in a field name stays escaped text.
        messages = [f"unknown field {go_quote(path)}" for path in report.unknown]
        if strict and options.field_validation == "Strict":
            raise BadRequest(f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                             f"{resource.kind}: strict decoding error: {', '.join(messages)}")
        prune_paths(obj, list(report.unknown))
        return messages if strict and options.field_validation == "Warn" else []

    @staticmethod
    def _raise_type_errors(resource: Resource, report: validation.SchemaReport) -> None:
        """Fields of the wrong JSON type: upstream's decoder refuses these (400) before any
        strategy or default sees the object."""
        if report.type_errors:
            raise BadRequest(f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                             f"{resource.kind}: {report.type_errors[0]}")

    @staticmethod
    def _raise_invalid(resource: Resource, name: str, errors: list[FieldError]) -> None:
        if not errors:
            return
        type_errors = [e for e in errors if e.reason == "FieldValueTypeInvalid"]
        if type_errors:
            first = type_errors[0]
            raise BadRequest(f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                             f"{resource.kind}: {first.field}: {first.message}")
        raise Invalid.fields(resource.kind, name, errors, resource.group)

    @staticmethod
    def _check_uid(new: dict[str, Any], current: dict[str, Any]) -> None:
        uid = new.get("metadata", {}).get("uid")
        if uid and uid != current["metadata"].get("uid"):
            raise Conflict(f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                           f"{current['metadata'].get('uid')}")

    @staticmethod
    def _check_preconditions(delete_options: dict[str, Any], current: dict[str, Any]) -> None:
        preconditions = delete_options.get("preconditions") or {}
        metadata = current["metadata"]
        uid, rv = preconditions.get("uid"), preconditions.get("resourceVersion")
        if uid and uid != metadata.get("uid"):
            raise Conflict(f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                           f"{metadata.get('uid')}")
        if rv and str(rv) != metadata.get("resourceVersion"):
            raise Conflict(f"Precondition failed: ResourceVersion in precondition: {rv}, "
                           f"ResourceVersion in object meta: {metadata.get('resourceVersion')}")

    @staticmethod
    def _finalized(strategy: Strategy, obj: dict[str, Any]) -> bool:
        # Upstream removes an object once its last finalizer is gone, provided no grace period
        # is still running (a pod's kubelet finishes that with a delete of grace 0).
        metadata = obj["metadata"]
        return ("deletionTimestamp" in metadata and not strategy.pending_finalizers(obj)
                and not metadata.get("deletionGracePeriodSeconds"))


# Upstream's garbage collector acts on these finalizers: "orphan" releases the dependents,
# "foregroundDeletion" deletes them before the owner. Background deletion needs none.
_PROPAGATION_FINALIZERS = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}


def _add_propagation_finalizer(obj: dict[str, Any], delete_options: dict[str, Any]) -> None:
    policy = delete_options.get("propagationPolicy")
    if policy is None and delete_options.get("orphanDependents") is True:
        policy = "Orphan"  # the deprecated field, still honoured upstream
    finalizer = _PROPAGATION_FINALIZERS.get(str(policy))
    metadata = obj["metadata"]
    if finalizer is None or "deletionTimestamp" in metadata:
        return
    finalizers = metadata.setdefault("finalizers", [])
    if finalizer not in finalizers:
        finalizers.append(finalizer)


def raise_timeout(revision: int, current: int) -> ApiError:
    return Timeout(f"Too large resource version: {revision}, current: {current}",
                   details={"causes": [{"reason": "ResourceVersionTooLarge",
                                        "message": "Too large resource version"}],
                            "retryAfterSeconds": 1})

"""``--encryption-provider-config``: upstream's EncryptionConfiguration, read, checked and built.

The file is ``apiVersion: apiserver.config.k8s.io/v1``, ``kind: EncryptionConfiguration``: a
list of rules, each naming resources (``secrets``, ``deployments.apps``, ``*.apps`` for a group,
``*.`` for the core group, ``*.*`` for everything) and an ordered list of providers (``aesgcm``,
``aescbc``, ``secretbox`` with named base64 keys, or ``identity``). The first provider of a rule
encrypts, every provider decrypts. Checks and messages follow upstream's
``ValidateEncryptionConfiguration`` and ``LoadEncryptionConfig`` (strict decoding, key lengths,
``*`` and overlap rules, "masked by earlier rule"), so a bad file stops the server at start-up
with a message naming the field. Key material never appears in a message.

Lookup is upstream's ``transformerFromOverrides``: the exact resource, else its group's
wildcard, else ``*.*``, else identity (which still refuses to read encrypted data).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from apis.catalogue import Resource
from server.storage.value_transformers import (
    AesCbcTransformer,
    AesGcmTransformer,
    IdentityTransformer,
    Prefixed,
    PrefixTransformers,
    SecretboxTransformer,
    ValueTransformer,
)

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
_AES_SIZES = (16, 24, 32)
_SECRETBOX_SIZES = (32,)
_NOT_REST = frozenset({"apiserveripinfo", "serviceipallocations", "servicenodeportallocations"})
ANY = ("*", "*")

GroupResource = tuple[str, str]  # (group, resource); "" is the core group


class EncryptionConfigError(Exception):
    """The configuration file cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class _KeyedProvider:
    """How one keyed provider kind builds its transformer and what its keys must look like."""

    prefix: bytes
    sizes: tuple[int, ...]
    build: Callable[[bytes], ValueTransformer]


_PROVIDERS: dict[str, _KeyedProvider] = {
    "aesgcm": _KeyedProvider(b"k8s:enc:aesgcm:v1:", _AES_SIZES, AesGcmTransformer),
    "aescbc": _KeyedProvider(b"k8s:enc:aescbc:v1:", _AES_SIZES, AesCbcTransformer),
    "secretbox": _KeyedProvider(b"k8s:enc:secretbox:v1:", _SECRETBOX_SIZES, SecretboxTransformer),
}
_KNOWN_PROVIDERS = ("aesgcm", "aescbc", "secretbox", "identity", "kms")


def parse_group_resource(text: str) -> GroupResource:
    """``secrets`` → ("", "secrets"); ``deployments.apps`` → ("apps", "deployments");
    ``*.`` → ("", "*") (upstream schema.ParseGroupResource: split at the first dot)."""
    resource, dot, group = text.partition(".")
    return (group, resource) if dot else ("", text)


class EncryptionConfig:
    """Group-resource → transformer, as built from one configuration file."""

    def __init__(self, transformers: dict[GroupResource, ValueTransformer]) -> None:
        self._transformers = transformers
        self._identity = IdentityTransformer()

    def transformer_for(self, group: str, resource: str) -> ValueTransformer:
        for key in ((group, resource), (group, "*"), ANY):
            found = self._transformers.get(key)
            if found is not None:
                return found
        return self._identity

    def configured(self) -> list[GroupResource]:
        return sorted(self._transformers)


def load_encryption_config(path: str | Path) -> EncryptionConfig:
    """Reads, validates and builds the file at ``path``; raises EncryptionConfigError."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise EncryptionConfigError(
            f"error opening encryption provider configuration file {str(path)!r}: {e.strerror}") from e
    if not text.strip():
        raise EncryptionConfigError(f"encryption provider configuration file {str(path)!r} is empty")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise EncryptionConfigError(f"error while parsing file: {e}") from e
    return build_encryption_config(document)


def build_encryption_config(document: Any) -> EncryptionConfig:
    """The configuration a decoded document describes; raises EncryptionConfigError."""
    errors = _Errors()
    rules = _check_document(document, errors)
    errors.raise_if_any("error while parsing file")
    table: dict[GroupResource, list[Prefixed]] = {}
    for index, rule in enumerate(rules):
        providers = [_provider(p) for p in rule["providers"]]
        for name in rule["resources"]:
            group_resource = parse_group_resource(name)
            for masking in ((group_resource[0], "*"), ANY):
                if masking in table:
                    raise EncryptionConfigError(
                        f"error while building transformers: resource {_yaml_name(group_resource)!r} "
                        f"(resources[{index}]) is masked by earlier rule {_yaml_name(masking)!r}")
            table.setdefault(group_resource, []).extend(providers)
    return EncryptionConfig({gr: PrefixTransformers(entries, no_match="no matching prefix found")
                             for gr, entries in table.items()})


def _yaml_name(group_resource: GroupResource) -> str:
    group, resource = group_resource
    return f"{resource}.{group}" if group else (f"{resource}." if resource == "*" else resource)


def _provider(entry: dict[str, Any]) -> Prefixed:
    (kind, settings), = entry.items()
    if kind == "identity":
        return Prefixed(b"", IdentityTransformer())
    spec = _PROVIDERS[kind]
    keys = [Prefixed(f"{key['name']}:".encode(), spec.build(base64.b64decode(key["secret"], validate=True)))
            for key in settings["keys"]]
    return Prefixed(spec.prefix, PrefixTransformers(
        keys, no_match=f"no matching key was found for the provided {kind} transformer"))


class _Errors:
    """Field errors collected over the whole document, reported together (upstream ToAggregate)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def raise_if_any(self, context: str) -> None:
        if self.items:
            joined = self.items[0] if len(self.items) == 1 else "[" + ", ".join(self.items) + "]"
            raise EncryptionConfigError(f"{context}: {joined}")


def _check_fields(obj: Any, path: str, allowed: set[str], errors: _Errors) -> bool:
    """Is ``obj`` a mapping without unknown fields (upstream decodes strictly)?"""
    if not isinstance(obj, dict):
        errors.add(path or "<root>", "must be an object")
        return False
    for name in obj:
        if name not in allowed:
            errors.add(f"{path}.{name}" if path else str(name), "unknown field")
    return True


def _check_document(document: Any, errors: _Errors) -> list[dict[str, Any]]:
    if not _check_fields(document, "", {"apiVersion", "kind", "resources"}, errors):
        return []
    if document.get("apiVersion") != API_VERSION or document.get("kind") != KIND:
        errors.add("<root>", f'expected apiVersion "{API_VERSION}" and kind "{KIND}", got '
                             f'"{document.get("apiVersion")}" and "{document.get("kind")}"')
    rules = document.get("resources")
    if not isinstance(rules, list) or not rules:
        errors.add("resources", "Required value: at least one resources is required")
        return []
    for index, rule in enumerate(rules):
        _check_rule(rule, f"resources[{index}]", errors)
    return rules


def _check_rule(rule: Any, path: str, errors: _Errors) -> None:
    if not _check_fields(rule, path, {"resources", "providers"}, errors):
        return
    names = rule.get("resources")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        errors.add(f"{path}.resources", f"Required value: at least one {path}.resources is required")
    else:
        _check_resource_names(names, f"{path}.resources", errors)
    providers = rule.get("providers")
    if not isinstance(providers, list) or not providers:
        errors.add(f"{path}.providers", f"Required value: at least one {path}.providers is required")
        return
    for index, provider in enumerate(providers):
        _check_provider(provider, f"{path}.providers[{index}]", errors)


def _check_resource_names(names: list[str], path: str, errors: _Errors) -> None:
    for index, name in enumerate(names):
        group, resource = parse_group_resource(name)
        reason = ""
        if name != name.lower():
            reason = "resource name should not contain capital letters"
        elif name == "*":
            reason = ("use '*.' to encrypt all the resources from core API group or *.* to encrypt "
                      "all resources")
        elif name in _NOT_REST:
            reason = "resources which do not have REST API/s cannot be encrypted"
        elif group == "events.k8s.io":
            reason = ("'*.events.k8s.io' objects are stored using the 'events' API group in etcd. "
                      "Use 'events' instead in the config file")
        elif group == "extensions":
            reason = "'extensions' group has been removed and cannot be used for encryption"
        elif group == "*" and resource != "*":
            reason = "encrypting the same resource across groups is not supported"
        if reason:
            errors.add(f"{path}[{index}]", f'Invalid value: "{name}": {reason}')
    parsed = [parse_group_resource(n) for n in names]
    if len(set(parsed)) != len(parsed):
        errors.add(path, "Invalid value: the same resource cannot be specified multiple times")
    overlapping = len(parsed) > 1 and (ANY in parsed or any(
        a != b and a[0] == b[0] and "*" in (a[1], b[1]) for a in parsed for b in parsed))
    if overlapping:
        errors.add(path, "Invalid value: using overlapping resources such as 'secrets' and '*.' in the "
                         "same resource list is not allowed as they will be masked")


def _check_provider(provider: Any, path: str, errors: _Errors) -> None:
    if not _check_fields(provider, path, set(_KNOWN_PROVIDERS), errors):
        return
    kinds = [k for k in provider if k in _KNOWN_PROVIDERS]
    if not kinds:
        errors.add(path, "Invalid value: provider does not contain any of the expected providers: "
                         "AESGCM, AESCBC, Secretbox, Identity")
        return
    if len(kinds) > 1:
        errors.add(path, "Invalid value: more than one provider specified in a single element, "
                         "should split into different list elements")
        return
    kind = kinds[0]
    if kind == "kms":
        errors.add(f"{path}.kms", "Unsupported value: KMS providers are not supported by this server "
                                  "(supported: aesgcm, aescbc, secretbox, identity)")
    elif kind == "identity":
        settings = provider[kind]
        if settings is not None:
            _check_fields(settings, f"{path}.identity", set(), errors)
    else:
        _check_keys(provider[kind], f"{path}.{kind}", _PROVIDERS[kind].sizes, errors)


def _check_keys(settings: Any, path: str, sizes: tuple[int, ...], errors: _Errors) -> None:
    if not _check_fields(settings, path, {"keys"}, errors):
        return
    keys = settings.get("keys")
    if not isinstance(keys, list) or not keys:
        errors.add(f"{path}.keys", "Required value: at least one keys is required")
        return
    for index, key in enumerate(keys):
        key_path = f"{path}.keys[{index}]"
        if not _check_fields(key, key_path, {"name", "secret"}, errors):
            continue
        if not isinstance(key.get("name"), str) or not key["name"]:
            errors.add(f"{key_path}.name", "Required value: name is a mandatory field for a key")
        secret = key.get("secret")
        if not isinstance(secret, str) or not secret:
            errors.add(f"{key_path}.secret", "Required value: secret is a mandatory field for a key")
            continue
        try:
            length = len(base64.b64decode(secret, validate=True))
        except (binascii.Error, ValueError):
            errors.add(f"{key_path}.secret", 'Invalid value: "REDACTED": secrets must be base64 encoded')
            continue
        if length not in sizes:
            expected = " ".join(str(s) for s in sizes)
            errors.add(f"{key_path}.secret", f'Invalid value: "REDACTED": secret is not of the expected '
                                             f"length, got {length}, expected one of [{expected}]")


def segment_transformers(config: EncryptionConfig,
                         resources: Iterable[Resource]) -> dict[str, ValueTransformer]:
    """Storage segment (``/registry/{segment}/``) → transformer, for every served resource.

    ``events.k8s.io`` events are core events in upstream's storage (its validation says so), so
    the ``events`` rule covers both.
    """
    table: dict[str, ValueTransformer] = {}
    for resource in resources:
        group = "" if resource.group == "events.k8s.io" else resource.group
        table[resource.key_segment] = config.transformer_for(group, resource.plural)
    return table

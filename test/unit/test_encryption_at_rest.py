"""Encryption at rest: the value transformers, the EncryptionConfiguration and the storage wrapper.

Covers: every provider (aesgcm, aescbc, secretbox, identity) round-trips, writes upstream's
``k8s:enc:<provider>:v1:<keyname>:`` prefix and bytes (checked against values built here directly
with the primitives: nonce/IV first, GCM's authenticated data = the storage key), refuses a wrong
key and a tampered value; identity reads old plaintext but never encrypted data; reads through a
later provider or key are stale (rotation); upstream's resource lookup (exact, ``*.group``,
``*.``, ``*.*``) and its validation messages for bad files; `TransformingBackend` over the memory
backend: encrypted in the store, plain through it, an undecryptable value marked instead of
failing a list or the watch. Leaves out the server process, the watch cache and the SQLite file
(test/component/test_api_encryption.py).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.secret import SecretBox

from server.resources.builtin import builtin_catalogue
from server.storage.encryption_config import (
    EncryptionConfigError,
    build_encryption_config,
    load_encryption_config,
    parse_group_resource,
    segment_transformers,
)
from server.storage.memory import MemoryBackend
from server.storage.transforming import TransformingBackend
from server.storage.value_transformers import IdentityTransformer, TransformError

KEY = b"/registry/secrets/acme/default/db"
PLAIN = b'{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}'


def secret(size: int = 32) -> bytes:
    return os.urandom(size)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def config(*providers: dict[str, Any], resources: tuple[str, ...] = ("secrets",)) -> dict[str, Any]:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [{"resources": list(resources), "providers": list(providers)}]}


def keyed(kind: str, *keys: tuple[str, bytes]) -> dict[str, Any]:
    return {kind: {"keys": [{"name": name, "secret": b64(raw)} for name, raw in keys]}}


def secrets_transformer(*providers: dict[str, Any]) -> Any:
    return build_encryption_config(config(*providers)).transformer_for("", "secrets")


@pytest.mark.parametrize("kind", ["aesgcm", "aescbc", "secretbox"])
def test_each_provider_round_trips_with_upstreams_prefix(kind: str) -> None:
    transformer = secrets_transformer(keyed(kind, ("key1", secret())))
    stored = transformer.to_storage(PLAIN, KEY)
    assert stored.startswith(f"k8s:enc:{kind}:v1:key1:".encode())
    assert PLAIN not in stored and b"aHVudGVyMg" not in stored
    assert transformer.from_storage(stored, KEY) == (PLAIN, False)
    assert transformer.to_storage(PLAIN, KEY) != stored  # a fresh nonce/IV every write


@pytest.mark.parametrize("kind", ["aesgcm", "aescbc", "secretbox"])
def test_a_wrong_key_fails_to_decrypt(kind: str) -> None:
    writer = secrets_transformer(keyed(kind, ("key1", secret())))
    reader = secrets_transformer(keyed(kind, ("key1", secret())))  # same name, another key
    failures = 0
    for _ in range(8):
        try:
            reader.from_storage(writer.to_storage(PLAIN, KEY), KEY)
        except TransformError as e:
            assert "failed to decrypt" in str(e)
            failures += 1
    # aescbc is not authenticated: with a wrong key only the padding check catches it, and a
    # random block passes that by chance about once in 256 (the registry then fails to decode
    # the JSON, see test/component/test_api_encryption.py). The others always fail.
    assert failures >= (6 if kind == "aescbc" else 8)


def test_tampered_and_moved_values_do_not_decrypt() -> None:
    gcm = secrets_transformer(keyed("aesgcm", ("k", secret())))
    stored = bytearray(gcm.to_storage(PLAIN, KEY))
    stored[-1] ^= 1
    with pytest.raises(TransformError, match="message authentication failed"):
        gcm.from_storage(bytes(stored), KEY)
    # GCM authenticates the storage key: a value copied under another key is refused.
    with pytest.raises(TransformError, match="message authentication failed"):
        gcm.from_storage(gcm.to_storage(PLAIN, KEY), b"/registry/secrets/evil/default/db")
    short = b"k8s:enc:aesgcm:v1:k:" + b"abc"
    with pytest.raises(TransformError, match="shorter than the required size"):
        gcm.from_storage(short, KEY)


def test_bytes_match_upstreams_formats() -> None:
    """Values built here with the primitives, as upstream's transformers lay them out, decrypt."""
    raw = secret()
    nonce = os.urandom(12)
    gcm_value = b"k8s:enc:aesgcm:v1:k1:" + nonce + AESGCM(raw).encrypt(nonce, PLAIN, KEY)
    assert secrets_transformer(keyed("aesgcm", ("k1", raw))).from_storage(gcm_value, KEY)[0] == PLAIN

    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(raw), modes.CBC(iv)).encryptor()
    body = encryptor.update(padder.update(PLAIN) + padder.finalize()) + encryptor.finalize()
    cbc_value = b"k8s:enc:aescbc:v1:k1:" + iv + body
    assert secrets_transformer(keyed("aescbc", ("k1", raw))).from_storage(cbc_value, KEY)[0] == PLAIN

    box_value = b"k8s:enc:secretbox:v1:k1:" + bytes(SecretBox(raw).encrypt(PLAIN, os.urandom(24)))
    assert secrets_transformer(keyed("secretbox", ("k1", raw))).from_storage(box_value, KEY)[0] == PLAIN


def test_identity_reads_old_plaintext_and_refuses_encrypted_data() -> None:
    raw = secret()
    encrypting = secrets_transformer(keyed("aesgcm", ("k1", raw)), {"identity": {}})
    # Plaintext written before encryption was turned on is read, and is stale (rewrite encrypts).
    assert encrypting.from_storage(PLAIN, KEY) == (PLAIN, True)
    identity_only = secrets_transformer({"identity": {}})
    assert identity_only.to_storage(PLAIN, KEY) == PLAIN
    with pytest.raises(TransformError, match="no matching prefix found"):
        identity_only.from_storage(encrypting.to_storage(PLAIN, KEY), KEY)
    # Without any rule for the resource: identity that still refuses to serve ciphertext.
    unconfigured = build_encryption_config(config({"identity": {}})).transformer_for("", "configmaps")
    assert isinstance(unconfigured, IdentityTransformer)
    with pytest.raises(TransformError, match="identity transformer tried to read encrypted data"):
        unconfigured.from_storage(b"k8s:enc:aescbc:v1:k:xxxxxxxxxxxxxxxxxxxxxxxx", KEY)
    # Identity first, encryption second: migrating away from encryption reads both, stale when old.
    decrypting = secrets_transformer({"identity": {}}, keyed("aesgcm", ("k1", raw)))
    assert decrypting.from_storage(encrypting.to_storage(PLAIN, KEY), KEY) == (PLAIN, True)
    assert decrypting.from_storage(PLAIN, KEY) == (PLAIN, False)
    assert decrypting.to_storage(PLAIN, KEY) == PLAIN


def test_rotation_reads_old_keys_as_stale_and_writes_with_the_first() -> None:
    old, new = secret(), secret()
    before = secrets_transformer(keyed("aescbc", ("old", old)))
    during = secrets_transformer(keyed("aescbc", ("new", new), ("old", old)))
    stored_old = before.to_storage(PLAIN, KEY)
    assert during.from_storage(stored_old, KEY) == (PLAIN, True)
    rewritten = during.to_storage(PLAIN, KEY)
    assert rewritten.startswith(b"k8s:enc:aescbc:v1:new:")
    assert during.from_storage(rewritten, KEY) == (PLAIN, False)
    after = secrets_transformer(keyed("aescbc", ("new", new)))
    assert after.from_storage(rewritten, KEY) == (PLAIN, False)
    with pytest.raises(TransformError, match="no matching key was found for the provided aescbc"):
        after.from_storage(stored_old, KEY)
    # A provider of another kind later in the list decrypts what an earlier kind can not.
    mixed = secrets_transformer(keyed("secretbox", ("sb", secret())), keyed("aescbc", ("old", old)))
    assert mixed.from_storage(stored_old, KEY) == (PLAIN, True)


def test_resource_lookup_follows_upstream() -> None:
    document = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration", "resources": [
        {"resources": ["secrets", "deployments.apps"], "providers": [keyed("aesgcm", ("a", secret()))]},
        {"resources": ["*.batch"], "providers": [keyed("aescbc", ("b", secret()))]},
        {"resources": ["*."], "providers": [keyed("secretbox", ("c", secret()))]},
        {"resources": ["*.*"], "providers": [keyed("aescbc", ("d", secret()))]},
    ]}
    built = build_encryption_config(document)

    def prefix(group: str, resource: str) -> bytes:
        return built.transformer_for(group, resource).to_storage(b"{}", KEY)[:22]

    assert prefix("", "secrets").startswith(b"k8s:enc:aesgcm:v1:a:")
    assert prefix("apps", "deployments").startswith(b"k8s:enc:aesgcm:v1:a:")
    assert prefix("batch", "jobs").startswith(b"k8s:enc:aescbc:v1:b:")
    assert prefix("", "configmaps").startswith(b"k8s:enc:secretbox:v1:c")
    assert prefix("apps", "replicasets").startswith(b"k8s:enc:aescbc:v1:d:")
    assert parse_group_resource("*.") == ("", "*") and parse_group_resource("a.b.c") == ("b.c", "a")
    segments = segment_transformers(built, builtin_catalogue())
    assert segments["secrets"] is built.transformer_for("", "secrets")
    assert segments["events.events.k8s.io"] is built.transformer_for("", "events")


@pytest.mark.parametrize(("resources", "providers", "message"), [
    (["Secrets"], [{"identity": {}}], "should not contain capital letters"),
    (["*"], [{"identity": {}}], "use '*.' to encrypt all the resources from core API group"),
    (["events.events.k8s.io"], [{"identity": {}}], "Use 'events' instead"),
    (["secrets.*"], [{"identity": {}}], "across groups is not supported"),
    (["secrets", "*."], [{"identity": {}}], "overlapping resources"),
    (["secrets", "secrets"], [{"identity": {}}], "cannot be specified multiple times"),
    (["secrets"], [], "at least one resources[0].providers is required"),
    (["secrets"], [{"aescbc": {"keys": [{"name": "k", "secret": b64(b"short")}]}}],
     "secret is not of the expected length, got 5, expected one of [16 24 32]"),
    (["secrets"], [{"secretbox": {"keys": [{"name": "k", "secret": b64(secret(16))}]}}],
     "expected one of [32]"),
    (["secrets"], [{"aesgcm": {"keys": [{"name": "k", "secret": "not base64!"}]}}],
     "secrets must be base64 encoded"),
    (["secrets"], [{"aesgcm": {"keys": [{"secret": b64(secret())}]}}], "name is a mandatory field"),
    (["secrets"], [{"aesgcm": {"keys": []}}], "at least one keys is required"),
    (["secrets"], [{"identity": {}, "aescbc": {"keys": []}}], "more than one provider"),
    (["secrets"], [{"kms": {"name": "x"}}], "KMS providers are not supported"),
    (["secrets"], [{"aesgcm": {"keys": [{"name": "k", "secret": b64(secret()), "extra": 1}]}}],
     "keys[0].extra: unknown field"),
])
def test_bad_configurations_are_refused(resources: list[str], providers: list[dict[str, Any]],
                                        message: str) -> None:
    document = config(*providers, resources=tuple(resources))
    with pytest.raises(EncryptionConfigError) as caught:
        build_encryption_config(document)
    assert message in str(caught.value)


def test_masked_rules_kind_and_files() -> None:
    document = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration", "resources": [
        {"resources": ["*."], "providers": [{"identity": {}}]},
        {"resources": ["secrets"], "providers": [{"identity": {}}]}]}
    masked = r"resource 'secrets' .* is masked by earlier rule '\*\.'"
    with pytest.raises(EncryptionConfigError, match=masked):
        build_encryption_config(document)
    with pytest.raises(EncryptionConfigError, match="expected apiVersion"):
        build_encryption_config({**config({"identity": {}}), "kind": "Config"})
    with pytest.raises(EncryptionConfigError, match="error opening encryption provider configuration file"):
        load_encryption_config("/nonexistent/encryption.yaml")


def test_keys_never_appear_in_messages(tmp_path: Path) -> None:
    raw = b64(b"0123456789")
    path = tmp_path / "enc.yaml"
    path.write_text(f"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                    f"- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n"
                    f"      - name: k1\n        secret: {raw}\n")
    with pytest.raises(EncryptionConfigError) as caught:
        load_encryption_config(path)
    assert raw not in str(caught.value) and "REDACTED" in str(caught.value)


async def test_transforming_backend_encrypts_in_the_store_and_marks_what_it_cannot_read() -> None:
    inner = MemoryBackend()
    await inner.start()
    raw = secret()
    built = build_encryption_config(config(keyed("aesgcm", ("k1", raw)), {"identity": {}}))
    backend = TransformingBackend(inner, segment_transformers(built, builtin_catalogue()),
                                  default=IdentityTransformer())
    key, plain_key = KEY.decode(), "/registry/configmaps/acme/default/cm"
    watch = backend.watch("/registry/", after_revision=0)
    await backend.create(key, PLAIN)
    await backend.create(plain_key, b"{}")
    stored = await inner.get(key)
    assert stored is not None and stored.value.startswith(b"k8s:enc:aesgcm:v1:k1:")
    assert (await inner.get(plain_key)).value == b"{}"  # type: ignore[union-attr]
    got = await backend.get(key)
    assert got is not None and got.value == PLAIN and not got.stale and not got.unreadable
    events = [await anext(watch), await anext(watch)]
    assert [e.kv.value for e in events] == [PLAIN, b"{}"]
    # Plaintext from before encryption: readable and stale. Ciphertext under an unknown key:
    # marked unreadable, the rest of the list still served.
    await inner.create("/registry/secrets/acme/default/old", PLAIN)
    alien_key = "/registry/secrets/acme/default/alien"
    foreign = secrets_transformer(keyed("aesgcm", ("k1", secret())))  # same key name, other key
    await inner.create(alien_key, foreign.to_storage(PLAIN, alien_key.encode()))
    page = await backend.list("/registry/secrets/")
    by_key = {kv.key: kv for kv in page.items}
    assert by_key["/registry/secrets/acme/default/old"].stale
    alien = by_key[alien_key]
    assert alien.value == b"" and "failed to decrypt" in alien.unreadable
    assert alien.unreadable.startswith(f'unable to transform key "{alien_key}"')
    assert by_key[key].value == PLAIN
    await inner.close()

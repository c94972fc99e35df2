"""Value transformers: how a stored value is encrypted on its way in and decrypted on its way out.

Upstream's ``k8s.io/apiserver/pkg/storage/value`` and its ``encrypt/{aes,secretbox,identity}``
packages, with the same bytes on disk, so a value written here reads the way upstream writes it:

- a provider writes ``k8s:enc:<provider>:v1:<keyname>:`` followed by its ciphertext;
- ``aesgcm``: a random 12-byte nonce, then AES-GCM ciphertext+tag, the storage key as additional
  authenticated data (a value copied to another key does not decrypt);
- ``aescbc``: a random 16-byte IV, then AES-CBC ciphertext of the PKCS#7-padded value;
- ``secretbox``: a random 24-byte nonce, then NaCl's XSalsa20-Poly1305 box (tag first);
- ``identity``: the value as it is; reading a value that carries the ``k8s:enc:`` prefix fails
  (upstream's EncryptCheckTransformer), so encrypted data is never served as if it were plain.

`PrefixTransformers` chooses by prefix: the first transformer writes; on read every transformer
whose prefix matches is tried in order, and a read through any but the first is *stale* (the
value should be rewritten with the writing key — how key rotation works).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from server.storage.interface import StorageError

ENCRYPTED_PREFIX = b"k8s:enc:"
_SHORT = "the stored data was shorter than the required size"


class TransformError(StorageError):
    """A stored value that cannot be transformed (wrong key, tampered, unknown provider)."""


class ValueTransformer(Protocol):
    """Upstream's value.Transformer; ``context`` is the storage key (authenticated data)."""

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        """The plain value and whether it is stale; raises TransformError."""

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        """The value as it is to be stored."""


class IdentityTransformer:
    """Stores values as they are; refuses to read encrypted ones (upstream EncryptCheckTransformer)."""

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if data.startswith(ENCRYPTED_PREFIX):
            raise TransformError("identity transformer tried to read encrypted data")
        return data, False

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        return data


class AesGcmTransformer:
    """AES-GCM with a random 96-bit nonce and the storage key as authenticated data."""

    _NONCE = 12

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < self._NONCE:
            raise TransformError(_SHORT)
        try:
            return self._aead.decrypt(data[: self._NONCE], data[self._NONCE:], context), False
        except InvalidTag as e:
            raise TransformError("failed to decrypt: cipher: message authentication failed") from e

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(self._NONCE)
        return nonce + self._aead.encrypt(nonce, data, context)


class AesCbcTransformer:
    """AES-CBC with a random IV and PKCS#7 padding (no authentication: upstream's aescbc)."""

    _BLOCK = 16

    def __init__(self, key: bytes) -> None:
        self._algorithm = algorithms.AES(key)

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < self._BLOCK:
            raise TransformError(_SHORT)
        iv, body = data[: self._BLOCK], data[self._BLOCK:]
        if not body or len(body) % self._BLOCK:
            raise TransformError("failed to decrypt: the stored data is not a multiple of the block size")
        decryptor = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
        padded = decryptor.update(body) + decryptor.finalize()
        unpadder = padding.PKCS7(self._BLOCK * 8).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize(), False
        except ValueError as e:
            raise TransformError("failed to decrypt: invalid padding on input") from e

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        iv = os.urandom(self._BLOCK)
        padder = padding.PKCS7(self._BLOCK * 8).padder()
        encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        padded = padder.update(data) + padder.finalize()
        return iv + encryptor.update(padded) + encryptor.finalize()


class SecretboxTransformer:
    """NaCl secretbox (XSalsa20-Poly1305) with a random 24-byte nonce in front."""

    def __init__(self, key: bytes) -> None:
        self._box = SecretBox(key)

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < SecretBox.NONCE_SIZE:
            raise TransformError(_SHORT)
        try:
            return self._box.decrypt(data), False
        except CryptoError as e:
            raise TransformError("failed to decrypt: attempted to decrypt an invalid value") from e

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        return bytes(self._box.encrypt(data, os.urandom(SecretBox.NONCE_SIZE)))


@dataclass(frozen=True, slots=True)
class Prefixed:
    """A transformer and the prefix its values carry (upstream PrefixTransformer)."""

    prefix: bytes
    transformer: ValueTransformer


class PrefixTransformers:
    """Writes with the first transformer; reads with the first whose prefix matches and succeeds."""

    def __init__(self, entries: Sequence[Prefixed], *, no_match: str) -> None:
        if not entries:
            raise ValueError("PrefixTransformers needs at least one transformer")
        self._entries = tuple(entries)
        self._no_match = no_match

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        errors: list[str] = []
        for index, entry in enumerate(self._entries):
            if not data.startswith(entry.prefix):
                continue
            try:
                value, stale = entry.transformer.from_storage(data[len(entry.prefix):], context)
            except TransformError as e:
                # Upstream never stops at a failing match: the identity provider (empty prefix)
                # placed first to migrate away from encryption, or two providers of one kind
                # with different keys, leave the value to a later entry. Identity's own refusal
                # is not worth reporting once something else has been tried.
                if entry.prefix:
                    errors.append(str(e))
                continue
            return value, stale or index != 0
        if errors:
            raise TransformError(errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]")
        raise TransformError(self._no_match)

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        first = self._entries[0]
        return first.prefix + first.transformer.to_storage(data, context)

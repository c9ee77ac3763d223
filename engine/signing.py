"""The key case exports are signed with: Ed25519, so anyone holding the public key can check a copy.

The private key is the base64 of a 32-byte Ed25519 seed: `GOVFLOW_EXPORT_KEY` when set (set it on every
API machine of a city, so all of them sign with one key), else the file `export-signing.key` in the data
directory, created (mode 0600) the first time an export is signed. The public key is what auditors keep
to check exports offline (`govflow audit public-key` prints it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from engine.config import Settings
from engine.errors import RuleBroken

ALGORITHM = "Ed25519"
KEY_FILE = "export-signing.key"


@dataclass(frozen=True)
class ExportKey:
    """The server's signing key."""

    private: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, data: bytes) -> dict:
        """The signature block an export carries."""
        value = base64.b64encode(self.private.sign(data)).decode()
        return {"algorithm": ALGORITHM, "key_id": self.key_id, "public_key": self.public_key, "value": value}


def key_id(public_key: str) -> str:
    """A short name for a public key: the first 16 hex digits of its sha256."""
    return hashlib.sha256(public_key.encode()).hexdigest()[:16]


def _from_seed(text: str, where: str) -> ExportKey:
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RuleBroken(f"The export signing key in {where} is not base64.") from exc
    if len(seed) != 32:
        raise RuleBroken(f"The export signing key in {where} must be 32 bytes (base64 of an Ed25519 seed).")
    return ExportKey(Ed25519PrivateKey.from_private_bytes(seed))


def key_file(settings: Settings) -> Path:
    return settings.data_directory() / KEY_FILE


def existing_key(settings: Settings) -> ExportKey | None:
    """The configured key, or the one in the data directory; None when there is neither."""
    if settings.export_key:
        return _from_seed(settings.export_key, "GOVFLOW_EXPORT_KEY")
    path = key_file(settings)
    if path.is_file():
        return _from_seed(path.read_text(encoding="ascii", errors="replace"), str(path))
    return None


def signing_key(settings: Settings) -> ExportKey:
    """The key to sign with, created in the data directory when there is none yet."""
    found = existing_key(settings)
    if found is not None:
        return found
    path = key_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = base64.b64encode(os.urandom(32)).decode()
    try:
        # O_EXCL: two workers signing their first export at once must not end up with two keys.
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _from_seed(path.read_text(encoding="ascii"), str(path))
    with os.fdopen(handle, "w", encoding="ascii") as out:
        out.write(seed + "\n")
    return _from_seed(seed, str(path))


def public_key_from(text: str) -> str:
    """A public key given as base64 (32 bytes), checked."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RuleBroken("The public key is not base64.") from exc
    if len(raw) != 32:
        raise RuleBroken("The public key must be 32 bytes (base64 of an Ed25519 public key).")
    return base64.b64encode(raw).decode()


def signature_holds(public_key: str, signature: str, data: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True

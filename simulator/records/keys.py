"""Ed25519 station keys: an exam station signs its logs with a private key that only it holds;
assessors verify them with its public key, which cannot sign.

Files (PEM): the station's private key ``VSIM_STATION_KEY`` (a path), else
``$XDG_CONFIG_HOME/vsim/station.key`` (mode 0600, in a 0700 folder), and its public key beside
it (``station.pub``). The public keys a verifier trusts: every ``*.pub`` in
``VSIM_TRUSTED_KEYS`` (a folder) or ``$XDG_CONFIG_HOME/vsim/trusted/``, the station's own, and
any given on the command line (``--public-key``). A key is named by its id, the first 16 hex
digits of SHA-256 over its 32 raw public bytes (``vsim keys show`` prints it).

The keys are made and checked by ``cryptography`` (the standard package for it); nothing here
does arithmetic on keys.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from simulator.errors import UserError
from simulator.inputs import InputFileError, read_capped

ALGORITHM = "Ed25519"
MAX_TRUSTED = 1000
"""At most this many trusted public keys are read from a folder (bounded work)."""


def _config() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vsim"


def station_key_path() -> Path:
    """Where the station's private key is (``VSIM_STATION_KEY`` or the config folder)."""
    named = os.environ.get("VSIM_STATION_KEY")
    return Path(named) if named else _config() / "station.key"


def trusted_folder() -> Path:
    """The folder of trusted public keys (``VSIM_TRUSTED_KEYS`` or the config folder's)."""
    named = os.environ.get("VSIM_TRUSTED_KEYS")
    return Path(named) if named else _config() / "trusted"


def public_id(public: Ed25519PublicKey) -> str:
    """The key's id: 16 hex digits of SHA-256 over its raw public bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo)."""
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class StationKey:
    """A station's private key and its id."""

    private: Ed25519PrivateKey
    key_id: str
    path: Path

    def sign(self, data: bytes) -> str:
        """The base64 Ed25519 signature of ``data``."""
        return base64.b64encode(self.private.sign(data)).decode("ascii")


def load_station_key() -> StationKey | None:
    """The station's private key, or None when there is none."""
    path = station_key_path()
    if not os.path.lexists(path):
        return None
    raw = _read(path, "station key")
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError):
        raise UserError(f"{path}: station key: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"{path}: station key: not an Ed25519 key (make one: vsim keys create)")
    return StationKey(key, public_id(key.public_key()), path)


def create_station_key(*, force: bool = False) -> StationKey:
    """Make a new station key pair (the private key 0600 in a 0700 folder, whatever the umask;
    the public key beside it); refuses to replace one unless ``force``."""
    path = station_key_path()
    if os.path.lexists(path) and not force:
        raise UserError(f"{path}: station key: exists (keys create --force replaces it)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent == _config():
        os.chmod(path.parent, 0o700)
    _write_private(path, pem)
    path.with_suffix(".pub").write_bytes(public_pem(key.public_key()))
    return StationKey(key, public_id(key.public_key()), path)


def _write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".station.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file; one clear error otherwise."""
    raw = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError):
        raise UserError(f"{path}: public key: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UserError(f"{path}: public key: not an Ed25519 key")
    return key


def trusted_keys(extra: list[str] | None = None) -> dict[str, Ed25519PublicKey]:
    """The public keys a verifier trusts, by id: the trusted folder's ``*.pub``, the
    station's own and ``extra`` (paths)."""
    out: dict[str, Ed25519PublicKey] = {}
    folder = trusted_folder()
    if folder.is_dir():
        for p in sorted(folder.glob("*.pub"))[:MAX_TRUSTED]:
            k = load_public_key(p)
            out[public_id(k)] = k
    station = load_station_key()
    if station is not None:
        out[station.key_id] = station.private.public_key()
    for name in extra or []:
        k = load_public_key(Path(name))
        out[public_id(k)] = k
    return out


def verify_ed25519(public: Ed25519PublicKey, value: str, data: bytes) -> bool:
    """Whether ``value`` (base64) is ``public``'s signature of ``data``."""
    try:
        public.verify(base64.b64decode(value, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _read(path: Path, kind: str) -> bytes:
    try:
        return read_capped(path, kind="key file")
    except InputFileError as exc:
        raise UserError(f"{path}: {kind}: {exc.message}") from None

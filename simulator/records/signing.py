"""Signatures of attempt logs: HMAC-SHA256 with a shared key (where the key comes from, below)
or Ed25519 with an exam station's private key (:mod:`simulator.records.keys`).

The key is, in order: the ``VSIM_LOG_KEY`` environment variable (its UTF-8 bytes), else the
key file named by ``VSIM_LOG_KEY_FILE``, else ``$XDG_CONFIG_HOME/vsim/log.key``
(``~/.config/vsim/log.key``). The window creates that file (mode 0600, 32 random bytes as hex,
in a folder made 0700 whatever the umask) on first use so that its logs are always signed;
headless commands never create it. Creation is race-free: the key is written to a temporary
file in the same folder and hard-linked into place, so several windows starting at once all
end up with the one key (whoever links first wins; the others read it). A key file that
group or others can read, or shorter than 32 bytes, gets one warning on stderr.

The signature covers the canonical JSON of the log without its ``signature`` key: keys
sorted, ``,``/``:`` separators, UTF-8. It proves the log was not edited by someone without the
key; it is not a proof of who made the attempt (anyone with the key can sign). An Ed25519
signature proves the log came, unchanged, from the station holding that private key; whoever
verifies holds only the public key and cannot sign (docs/ASSESSMENT.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import sys
import tempfile
from pathlib import Path

from simulator.errors import UserError
from simulator.inputs import InputFileError, read_capped
from simulator.records.keys import ALGORITHM as ED25519
from simulator.records.keys import StationKey, load_station_key, verify_ed25519

MIN_KEY_BYTES = 32
_warned: set[str] = set()

ALGORITHM = "HMAC-SHA256"
UNSIGNED_NOTE = "unsigned: no key was set (VSIM_LOG_KEY or a key file), so edits cannot be detected"


def key_file_path() -> Path:
    """Where the key file is looked for (``VSIM_LOG_KEY_FILE`` or the user's config folder)."""
    named = os.environ.get("VSIM_LOG_KEY_FILE")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vsim" / "log.key"


def load_key(*, create: bool = False) -> bytes | None:
    """The signing key, or None when there is none (and ``create`` is false)."""
    env = os.environ.get("VSIM_LOG_KEY")
    if env:
        return env.encode("utf-8")
    path = key_file_path()
    key = _read_key(path)
    if key is not None or not create:
        return key
    try:
        _make_private_folder(path.parent)
        return _create_key(path)
    except OSError as exc:
        raise UserError(f"{path}: key file: cannot be created ({exc.strerror})") from None


def signing_key(*, create: bool = False):
    """What this machine signs its logs with: the station's Ed25519 key when it has one
    (``vsim keys create``), else the shared HMAC key (:func:`load_key`, made when ``create``),
    else None."""
    station = load_station_key()
    return station if station is not None else load_key(create=create)


def _read_key(path: Path) -> bytes | None:
    """The key in ``path`` (None when there is no file); warns once about a weak file."""
    if not os.path.lexists(path):
        return None
    try:
        text = read_capped(path, kind="key file").decode("utf-8").strip()
    except InputFileError as exc:
        raise UserError(f"{path}: key file: {exc.message}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: key file: not UTF-8 text (byte {exc.start})") from None
    if not text:
        raise UserError(f"{path}: key file: is empty; put a key in it or delete it")
    key = text.encode("utf-8")
    _warn_if_weak(path, key)
    return key


def _warn_if_weak(path: Path, key: bytes) -> None:
    problems = []
    try:
        if os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append("group or others can read it (chmod 600 it)")
    except OSError:
        pass
    if len(key) < MIN_KEY_BYTES:
        problems.append(f"it is shorter than {MIN_KEY_BYTES} bytes")
    if problems and str(path) not in _warned:
        _warned.add(str(path))
        print(f"warning: {path}: key file: {'; '.join(problems)}", file=sys.stderr)


def _make_private_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) with the last level 0700 whatever the umask."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        return
    os.chmod(folder, 0o700)


def _create_key(path: Path) -> bytes:
    """Write a new key to a temporary file beside ``path`` and link it into place; when
    another process linked first, its key is the key."""
    fd, tmp = tempfile.mkstemp(prefix=".log.key.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process linked first
            os.link(tmp, path)  # atomic, and fails if the name exists: no half-written key
    finally:
        os.unlink(tmp)
    key = _read_key(path)
    if key is None:
        raise UserError(f"{path}: key file: vanished while being created")
    return key


def key_id(key: bytes) -> str:
    """A short fingerprint naming the key without revealing it."""
    return hashlib.sha256(b"vsim-key-id:" + key).hexdigest()[:16]


def canonical(log: dict) -> bytes:
    """The bytes the signature covers: the log without ``signature``, canonical JSON."""
    body = {k: v for k, v in log.items() if k != "signature"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def signature_of(log: dict, key: bytes) -> str:
    """The hex HMAC-SHA256 of the log's canonical form."""
    return hmac.new(key, canonical(log), hashlib.sha256).hexdigest()


def sign(log: dict, key) -> dict:
    """The log with its ``signature``: Ed25519 for a station's key
    (:class:`~simulator.records.keys.StationKey`), HMAC-SHA256 for a shared key (bytes), the
    unsigned marker when ``key`` is None."""
    out = {k: v for k, v in log.items() if k != "signature"}
    if key is None:
        out["signature"] = {"algorithm": "none", "note": UNSIGNED_NOTE}
    elif isinstance(key, StationKey):
        out["signature"] = {
            "algorithm": ED25519,
            "key_id": key.key_id,
            "value": key.sign(canonical(out)),
        }
    else:
        out["signature"] = {
            "algorithm": ALGORITHM,
            "key_id": key_id(key),
            "value": signature_of(out, key),
        }
    return out


STATUSES = ("valid", "unsigned", "unknown key", "tampered")
"""What a check of a log's signature finds (:func:`signature_status`)."""


def signature_status(log: dict, key: bytes | None, trusted: dict | None = None) -> tuple[str, str]:
    """(status, why in words): ``valid``; ``unsigned``; ``unknown key`` (signed by a key this
    verifier does not hold: another HMAC key, or a public key it does not trust); ``tampered``
    (the key is known and the signature does not match: changed after it was written).
    ``key``: the shared HMAC key; ``trusted``: public keys by id
    (:func:`~simulator.records.keys.trusted_keys`)."""
    sig = log.get("signature", {})
    algorithm, sid = sig.get("algorithm"), str(sig.get("key_id", ""))
    if algorithm == ED25519:
        public = (trusted or {}).get(sid)
        if public is None:
            return (
                "unknown key",
                f"signed by station key {sid}, which is not among your trusted keys",
            )
        if not verify_ed25519(public, str(sig.get("value", "")), canonical(log)):
            why = f"the signature of station key {sid} does not match: the log was changed"
            return "tampered", why + " after it was written"
        return "valid", f"signed by station key {sid}"
    if algorithm != ALGORITHM:
        return "unsigned", "the log is unsigned, so edits cannot be detected"
    if key is None:
        return "unknown key", "no key to check the signature with (set VSIM_LOG_KEY or a key file)"
    if sid != key_id(key):
        return "unknown key", f"signed with another key (key id {sid}, yours {key_id(key)})"
    if not hmac.compare_digest(str(sig.get("value", "")), signature_of(log, key)):
        return "tampered", "the signature does not match: the log was changed after it was written"
    return "valid", f"signed with the shared key {sid}"


def check_signature(log: dict, key: bytes | None, trusted: dict | None = None) -> str | None:
    """None if the signature is valid for ``key`` or a ``trusted`` public key; otherwise why
    not, in words."""
    status, why = signature_status(log, key, trusted)
    return None if status == "valid" else why

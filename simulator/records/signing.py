"""HMAC-SHA256 signatures of attempt logs and where the key comes from.

The key is, in order: the ``VSIM_LOG_KEY`` environment variable (its UTF-8 bytes), else the
key file named by ``VSIM_LOG_KEY_FILE``, else ``$XDG_CONFIG_HOME/vsim/log.key``
(``~/.config/vsim/log.key``). The window creates that file (mode 0600, 32 random bytes as hex)
on first use so that its logs are always signed; headless commands never create it.

The signature covers the canonical JSON of the log without its ``signature`` key: keys
sorted, ``,``/``:`` separators, UTF-8. It proves the log was not edited by someone without the
key; it is not a proof of who made the attempt (anyone with the key can sign).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from simulator.errors import UserError

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
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: key file: cannot be read ({exc})") from None
    if text:
        return text.encode("utf-8")
    if text is not None:
        raise UserError(f"{path}: key file: is empty; put a key in it or delete it")
    if not create:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
        return key.encode("utf-8")
    except OSError as exc:
        raise UserError(f"{path}: key file: cannot be created ({exc.strerror})") from None


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


def sign(log: dict, key: bytes | None) -> dict:
    """The log with its ``signature`` (or the unsigned marker when ``key`` is None)."""
    out = {k: v for k, v in log.items() if k != "signature"}
    if key is None:
        out["signature"] = {"algorithm": "none", "note": UNSIGNED_NOTE}
    else:
        out["signature"] = {
            "algorithm": ALGORITHM,
            "key_id": key_id(key),
            "value": signature_of(out, key),
        }
    return out


def check_signature(log: dict, key: bytes | None) -> str | None:
    """None if the signature is valid for ``key``; otherwise why not, in words."""
    sig = log.get("signature", {})
    if sig.get("algorithm") != ALGORITHM:
        return "the log is unsigned, so edits cannot be detected"
    if key is None:
        return "no key to check the signature with (set VSIM_LOG_KEY or a key file)"
    if sig.get("key_id") != key_id(key):
        return f"signed with another key (key id {sig.get('key_id')}, yours {key_id(key)})"
    if not hmac.compare_digest(str(sig.get("value", "")), signature_of(log, key)):
        return "the signature does not match: the log was changed after it was written"
    return None

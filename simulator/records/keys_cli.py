"""``run_sim.py keys create | show | export FILE | trust KEY.pub``: the station's Ed25519 key.

- ``create``: a new key pair for this station (``--force`` replaces one: its earlier logs then
  verify only where its old public key is still trusted);
- ``show``: the key's id, where its files are, and the public key (PEM) to hand to assessors;
- ``export FILE``: the public key into ``FILE`` (a new file);
- ``trust KEY.pub``: copy an exam station's public key into this machine's trusted folder, so
  that ``verify`` and ``review`` accept the logs it signed.
"""

from __future__ import annotations

import os
from pathlib import Path

from simulator.errors import UserError
from simulator.records.keys import (
    create_station_key,
    load_public_key,
    load_station_key,
    public_id,
    public_pem,
    station_key_path,
    trusted_folder,
)


def run_keys(action: str, file: str | None, *, force: bool, out) -> int:
    """Do one ``keys`` action; returns the exit code (``UserError`` for bad input)."""
    if action in ("export", "trust") and not file:
        raise UserError(f"keys {action}: name the file (keys {action} FILE)")
    if action in ("create", "show") and file:
        raise UserError(f"keys {action}: takes no file (got {file!r:.60})")
    if action == "create":
        key = create_station_key(force=force)
        print(f"created station key {key.key_id}", file=out)
        print(f"  private: {key.path} (keep it on this station only)", file=out)
        print(f"  public:  {key.path.with_suffix('.pub')} (give it to the assessors)", file=out)
        return 0
    if action == "trust":
        public = load_public_key(Path(file))
        folder = trusted_folder()
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"{public_id(public)}.pub"
        dest.write_bytes(public_pem(public))
        print(f"trusted station key {public_id(public)}: {dest}", file=out)
        return 0
    key = load_station_key()
    if key is None:
        raise UserError(
            f"{station_key_path()}: station key: none on this machine (keys create makes one)"
        )
    pem = public_pem(key.private.public_key())
    if action == "show":
        print(f"station key {key.key_id}", file=out)
        print(f"  private: {key.path}", file=out)
        print(pem.decode("ascii"), end="", file=out)
        return 0
    dest = Path(file)
    if os.path.lexists(dest):
        raise UserError(f"{dest}: keys export: exists; name a new file")
    try:
        dest.write_bytes(pem)
    except OSError as exc:
        raise UserError(f"{dest}: keys export: cannot write ({exc.strerror})") from None
    print(f"exported station key {key.key_id}: {dest}", file=out)
    return 0

"""Logs whose origin is known and whose signatures review checks (issue 16): Ed25519 station
keys that assessors verify with the public key alone, the ``origin`` of every new log, and
review's signature status per log (valid, unsigned, unknown key, tampered) without a replay."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest

from simulator.actions import parse_script
from simulator.cli import main
from simulator.errors import UserError
from simulator.procedure import Procedure
from simulator.records.journal import AttemptRecorder, recover_journal
from simulator.records.keys import create_station_key, load_public_key, public_id
from simulator.records.log import LogError, attempt_log, read_log, write_json_atomic
from simulator.records.origin import make_origin
from simulator.records.signing import signature_status
from simulator.records.verify import verify_log
from simulator.review import run_review
from tests.conftest import scenario_and_phantom
from tests.make_personas import TEST_KEY

pytestmark = pytest.mark.usefixtures("shared_phantoms")

SCRIPT = {  # a short attempt: one look, one push, finish
    "format": "vsim-script/1",
    "actions": [
        {"t": 0.0, "do": "fluoro", "view": "ap"},
        {
            "t": 1.0,
            "do": "aim",
            "side": "left",
            "entry_mm": [30.0, 0.0],
            "medial_deg": 15.0,
            "caudal_deg": 0.0,
        },
        {"t": 2.0, "do": "advance", "mm": 20.0},
        {"t": 8.0, "do": "fluoro", "view": "lateral"},
        {"t": 9.0, "do": "finish"},
    ],
}


@pytest.fixture
def station(tmp_path, monkeypatch):
    """A fresh config folder with no shared key; returns a function making station keys."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("VSIM_LOG_KEY", raising=False)
    monkeypatch.delenv("VSIM_LOG_KEY_FILE", raising=False)
    monkeypatch.delenv("VSIM_TRUSTED_KEYS", raising=False)
    monkeypatch.setenv("VSIM_STATION", "exam-room-2")

    def make(name: str = "station"):
        monkeypatch.setenv("VSIM_STATION_KEY", str(tmp_path / name / "station.key"))
        return create_station_key()

    return make


def attempt(key, *, actions="script", hints=False) -> dict:
    s, ph = scenario_and_phantom("first_case_l1")
    proc = Procedure(s, phantom=ph).run(parse_script(json.dumps(SCRIPT).encode(), path="t"))
    origin = make_origin(actions, hints=hints)
    return attempt_log(
        proc, trainee="Ann", started_at="2026-12-01T09:00:00+00:00", key=key, origin=origin
    )


def write(tmp_path, name: str, log: dict):
    return write_json_atomic(tmp_path / name, log)


def test_a_station_signed_log_verifies_with_the_public_key_alone(tmp_path, station, monkeypatch):
    key = station()
    log = attempt(key)
    assert log["signature"]["algorithm"] == "Ed25519"
    path = write(tmp_path, "a.json", log)
    public = tmp_path / "station" / "station.pub"
    # the assessor's machine: no private key, no shared key, only the exported public key
    monkeypatch.setenv("VSIM_STATION_KEY", str(tmp_path / "none.key"))
    trusted = {public_id(load_public_key(public)): load_public_key(public)}
    assert verify_log(path, key=None, trusted=trusted) == []
    assert main(["verify", str(path), "--public-key", str(public)]) == 0
    # without trusting it, the same log is reported as signed by a key not held
    assert signature_status(log, None, {})[0] == "unknown key"
    assert main(["verify", str(path)]) == 1


def test_a_log_signed_by_another_station_is_reported_as_such(tmp_path, station, capsys):
    theirs = station("theirs")
    ours = station("ours")  # this machine's own station key
    path = write(tmp_path, "theirs.json", attempt(theirs))
    trusted = {ours.key_id: ours.private.public_key()}
    status, why = signature_status(read_log(path), None, trusted)
    assert status == "unknown key" and theirs.key_id in why
    ours_pub = tmp_path / "ours" / "station.pub"
    assert main(["verify", str(path), "--public-key", str(ours_pub)]) == 1
    assert (
        f"station key {theirs.key_id}, which is not among your trusted keys"
        in capsys.readouterr().out
    )


def test_an_edited_log_is_tampered_in_review_and_fails_verify(tmp_path, station):
    key = station()
    good = attempt(key)
    edited = json.loads(json.dumps(good))
    edited["score"]["total"] = 75.0
    a, b = write(tmp_path, "good.json", good), write(tmp_path, "edited.json", edited)
    shared = attempt(TEST_KEY)  # an HMAC log edited the same way
    shared["score"]["total"] = 75.0
    c = write(tmp_path, "edited_hmac.json", shared)
    os.environ["VSIM_LOG_KEY"] = TEST_KEY.decode()
    try:
        out = io.StringIO()
        csv, page = tmp_path / "r.csv", tmp_path / "r.html"
        assert run_review([str(tmp_path)], csv_path=str(csv), html_path=str(page), out=out) == 0
        html = page.read_text()
        assert "WARNING edited.json: changed after it was signed" in html
        assert html.count("<span class='fail'>tampered</span>") == 2
        text = out.getvalue()
        assert "WARNING edited.json: changed after it was signed" in text
        assert "WARNING edited_hmac.json: changed after it was signed" in text
        assert "2 logs left out (tampered" in text  # not counted in any table
        rows = csv.read_text().splitlines()
        head = rows[0].split(",")
        col = head.index('"verification"')
        status = {
            r.split(",")[head.index('"file"')].strip('"').rsplit("/", 1)[-1]: r.split(",")[col]
            for r in rows[1:]
        }
        assert status == {
            "good.json": '"valid"',
            "edited.json": '"tampered"',
            "edited_hmac.json": '"tampered"',
        }
        problems = verify_log(b, key=TEST_KEY, trusted={key.key_id: key.private.public_key()})
        assert problems and "was changed after it was written" in problems[0]
        assert verify_log(c, key=TEST_KEY)[0].startswith("signature: the signature does not match")
        assert verify_log(a, key=None, trusted={key.key_id: key.private.public_key()}) == []
    finally:
        del os.environ["VSIM_LOG_KEY"]


def test_review_shows_how_each_log_was_made(tmp_path, station, monkeypatch):
    monkeypatch.setenv("VSIM_LOG_KEY", TEST_KEY.decode())
    write(tmp_path, "script.json", attempt(TEST_KEY))
    write(tmp_path, "window.json", attempt(TEST_KEY, actions="window", hints=True))
    old = attempt(TEST_KEY)
    del old["origin"]  # a log of an earlier release has no origin
    from simulator.records.signing import sign

    write(tmp_path, "old.json", sign(old, TEST_KEY))
    out = io.StringIO()
    run_review([str(tmp_path)], csv_path=str(tmp_path / "r.csv"), html_path=None, out=out)
    assert "Origin: 1 script, 1 unknown, 1 window; 1 with training hints on." in out.getvalue()
    assert "Signatures: 3 valid." in out.getvalue()
    text = (tmp_path / "r.csv").read_text()
    assert '"valid","script","false","exam-room-2"' in text
    assert '"valid","window","true","exam-room-2"' in text
    assert '"valid","unknown","","",' in text


def test_a_scripted_run_records_script_origin(tmp_path, station, capsys):
    station()
    script = tmp_path / "s.json"
    script.write_text(json.dumps(SCRIPT))
    out = tmp_path / "log.json"
    args = ["run", "--scenario", "first_case_l1", "--script", str(script), "--log", str(out)]
    assert main(args) == 0
    log = read_log(out)
    assert log["origin"]["actions"] == "script" and log["origin"]["hints"] is False
    assert log["origin"]["station"] == "exam-room-2"
    assert log["signature"]["algorithm"] == "Ed25519"


def test_the_window_journal_keeps_origin_and_hints_through_a_recovery(
    tmp_path, station, monkeypatch
):
    monkeypatch.setenv("VSIM_LOG_KEY", TEST_KEY.decode())
    s, ph = scenario_and_phantom("first_case_l1")
    proc = Procedure(s, phantom=ph)
    origin = make_origin("window", hints=True)
    rec = AttemptRecorder(proc, trainee="Ann", logs_dir=tmp_path, key=TEST_KEY, origin=origin)
    for a in parse_script(json.dumps(SCRIPT).encode(), path="t")[:-1]:
        rec.submit(a)
    proc.advance_to(8.5)
    rec.heartbeat()
    rec.close()  # the window died before finishing
    log = recover_journal(rec.journal_path, key=TEST_KEY)
    assert log["origin"]["actions"] == "recovered" and log["origin"]["hints"] is True
    assert signature_status(log, TEST_KEY)[0] == "valid"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o.update(actions="robot"), "origin.actions"),
        (lambda o: o.update(hints="yes"), "origin.hints"),
        (lambda o: o.update(station="a\nb"), "origin.station"),
        (lambda o: o.pop("display"), "origin"),
    ],
)
def test_a_malformed_origin_is_refused_by_field(tmp_path, change, field):
    log = attempt(TEST_KEY)
    change(log["origin"])
    path = write(tmp_path, "bad.json", log)
    with pytest.raises(LogError, match=rf"bad.json: {field}: "):
        read_log(path)


def test_station_keys_are_private_and_never_replaced_unasked(tmp_path, station, capsys):
    key = station()
    private = tmp_path / "station" / "station.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    with pytest.raises(UserError, match="exists"):
        create_station_key()
    assert main(["keys", "show"]) == 0
    assert key.key_id in capsys.readouterr().out
    exported = tmp_path / "out.pub"
    assert main(["keys", "export", str(exported)]) == 0
    assert public_id(load_public_key(exported)) == key.key_id
    assert main(["keys", "export", str(exported)]) == 2  # never over an existing file
    assert main(["keys", "trust", str(exported)]) == 0
    trusted = tmp_path / "config" / "vsim" / "trusted" / f"{key.key_id}.pub"
    assert trusted.exists()
    assert main(["keys", "trust", str(private)]) == 2  # a private key is not a public key
    assert "not a PEM public key" in capsys.readouterr().err

"""Hostile input at every edge, through the real command line (issue 12, "Hardening").

Each case runs ``python run_sim.py …`` as a subprocess on one file of ``tests/data/hostile/``
or on a file made here in ``tmp_path`` (huge sparse files, ``/dev/zero``, FIFOs, edited copies
of the committed persona logs): the exit code is the documented one (2 for bad input), stderr
holds no traceback, and the outputs the command was asked for do not exist. The subprocess
timeout only stops a hang (a FIFO read would block forever); no wall time is asserted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.errors import UserError
from tests.make_personas import LOGS, TEST_KEY

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "data" / "hostile"
EXPERT_LOG = LOGS / "expert.json"
HUGE = "9" * 400
BIG = 3 * 2**30  # a sparse 3 GB file: no disk used, refused by its size before any read


def cli(*args, env=None, timeout=20):
    full = {**os.environ, "VSIM_LOG_KEY": TEST_KEY.decode(), **(env or {})}
    full = {k: v for k, v in full.items() if v is not None}
    return subprocess.run(
        [sys.executable, str(ROOT / "run_sim.py"), *args],
        capture_output=True,
        env=full,
        cwd=ROOT,
        timeout=timeout,
    )


def sparse(path: Path, size: int = BIG) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def log_text(change=None, text_change=None) -> str:
    """The committed expert log, edited as a dict (``change``) or as text (``text_change``)."""
    text = EXPERT_LOG.read_text(encoding="utf-8")
    if change:
        log = json.loads(text)
        change(log)
        text = json.dumps(log)
    return text_change(text) if text_change else text


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def short_script(tmp: Path) -> Path:
    actions = [
        {"t": 0.0, "do": "aim", "side": "left", "entry_mm": [43.84, 15.67], "medial_deg": 24.41,
         "caudal_deg": 10.95},
        {"t": 1.0, "do": "fluoro", "view": "lateral"},
        {"t": 2.0, "do": "finish"},
    ]  # fmt: skip
    return write(tmp / "short.json", json.dumps({"format": "vsim-script/1", "actions": actions}))


def run_with(script, tmp, *extra):
    return ["run", "--scenario", "first_case_l1", "--script", str(script), "--log",
            str(tmp / "out.json"), *extra]  # fmt: skip


def set_trainee(name):
    return lambda log: log.update(trainee=name)


def verify_edit(old: str, new: str):
    """A case: ``verify`` on the expert log with the first ``old`` replaced by ``new``."""
    edit = lambda s: s.replace(old, new, 1)  # noqa: E731
    return lambda t: ["verify", str(write(t / "l.json", log_text(None, edit)))]


def verify_changed(change):
    """A case: ``verify`` on the expert log changed as a dict."""
    return lambda t: ["verify", str(write(t / "l.json", log_text(change)))]


def corpus(command: str, name: str):
    """A case: ``command`` on a committed file of ``tests/data/hostile/``."""
    return lambda t: [command, str(HOSTILE / name)]


def run_script(name: str):
    return lambda t: run_with(HOSTILE / f"script_{name}.json", t)


def run_short(*extra):
    return lambda t: run_with(short_script(t), t, *extra)


NAMES = {
    "CR": "=cmd|' /C calc'!A0\r=2+2",
    "LF": "a\nb  9 100% 99",
    "TAB": "a\tb",
    "ANSI": "\x1b[31mred",
    "NUL": "a\x00b",
    "blank": "   ",
    "65 chars": "x" * 65,
}
"""Trainee names that break the name rule."""

# case id → (tmp_path → argv); every case: exit 2, no traceback, tmp/out.* not written
CASES = {
    # 1. numbers too large for a float, NaN/Infinity tokens
    **{
        f"script {name}": run_script(name)
        for name in ("huge_t", "huge_mm", "huge_entry_mm", "float_overflow", "nan", "infinity")
    },
    "journal huge seed": corpus("recover", "journal_huge_seed.journal.jsonl"),
    "log huge seed": verify_edit('"seed": 101', f'"seed": {HUGE}'),
    "log huge metric": verify_edit('"fluoro_shots": ', f'"fluoro_shots": {HUGE}, "x": '),
    "log NaN": verify_edit('"fluoro_shots": ', '"fluoro_shots": NaN, "x": '),
    "log Infinity": verify_edit('"fluoro_shots": ', '"fluoro_shots": -Infinity, "x": '),
    "scenario huge seed": corpus("validate", "hostile_huge_seed.toml"),
    "scenario huge float": corpus("validate", "hostile_huge_float.toml"),
    # 2. one seed rule
    "scenario negative seed": corpus("validate", "hostile_negative_seed.toml"),
    "journal negative seed": corpus("recover", "journal_negative_seed.journal.jsonl"),
    "journal seed 2**40": corpus("recover", "journal_seed_2_40.journal.jsonl"),
    "log seed 2**40": verify_changed(lambda log: log.update(seed=2**40)),
    "log seed -1": verify_changed(lambda log: log.update(seed=-1)),
    "run --seed 2**31": run_short("--seed", str(2**31)),
    "run --seed -1": run_short("--seed=-1"),
    "run --seed huge": run_short("--seed", HUGE),
    # 3. the trainee-name rule
    "run --trainee not UTF-8": run_short("--trainee", b"\xff"),
    "play --trainee not UTF-8": lambda t: ["play", "--trainee", b"\xff"],
    "play --trainee ESC": lambda t: ["play", "--trainee", "\x1b[2J"],
    **{  # a NUL cannot be passed on a command line at all
        f"run --trainee {what}": run_short("--trainee", name)
        for what, name in NAMES.items()
        if "\x00" not in name
    },
    **{f"log trainee {what}": verify_changed(set_trainee(n)) for what, n in NAMES.items()},
    "log trainee empty": verify_changed(set_trainee("")),
    "journal CR trainee": corpus("recover", "journal_cr_trainee.journal.jsonl"),
    # 5. file type and size before reading
    "scenario 3 GB": lambda t: ["validate", str(sparse(t / "big.toml"))],
    "script 3 GB": lambda t: run_with(sparse(t / "big.json"), t),
    "log 3 GB": lambda t: ["verify", str(sparse(t / "big.json"))],
    "journal 3 GB": lambda t: ["recover", str(sparse(t / "big.journal.jsonl"))],
    "key file 3 GB": lambda t: ["verify", str(EXPERT_LOG)],  # the key file: in the test
    "script /dev/zero": lambda t: run_with("/dev/zero", t),
    "scenario /dev/zero": lambda t: ["validate", "/dev/zero"],
    "log /dev/zero": lambda t: ["verify", "/dev/zero"],
    "script FIFO": lambda t: run_with(fifo(t / "s.json"), t),
    "scenario FIFO": lambda t: ["validate", str(fifo(t / "s.toml"))],
    "log FIFO": lambda t: ["verify", str(fifo(t / "l.json"))],
    "journal FIFO": lambda t: ["recover", str(fifo(t / "j.journal.jsonl"))],
    # 7. duplicate keys
    "script duplicate key": run_script("duplicate_key"),
    "script duplicate top key": run_script("duplicate_top_key"),
    "journal duplicate key": corpus("recover", "journal_duplicate_key.journal.jsonl"),
    "log fake trainee first": verify_edit("{", '{"trainee": "someone else", '),
    "log fake score first": verify_edit('"score": {', '"score": {"total": 100.0, '),
    "log duplicate deep": verify_edit('"fluoro_shots": ', '"fluoro_shots": 0, "fluoro_shots": '),
    # logs whose model or display cannot be replayed
    "log display not an object": verify_changed(lambda log: log.update(display="yes")),
    "log display bad value": verify_changed(lambda log: log.update(display={"invert": 1})),
    "log version not a release": verify_changed(lambda log: log.update(simulator_version="0.1.5")),
    "log version newer": verify_changed(lambda log: log.update(simulator_version="9.0.0")),
    "log version not ASCII": verify_changed(lambda log: log.update(simulator_version="٠.١.٠")),
    # a --log whose folder is a file
    "run --log under a file": lambda t: run_with(
        short_script(t), t, "--log", str(write(t / "out.d", "x") / "a.json")
    ),
}

FIELD = {
    "log display not an object": "display",
    "log display bad value": "display",
    "log version not a release": "simulator_version",
    "log version newer": "simulator_version",
    "log version not ASCII": "simulator_version",
    "run --log under a file": "--log",
    "log seed 2**40": "seed",
    "log seed -1": "seed",
    "log trainee empty": "trainee",
    "journal negative seed": "seed",
}
"""The field the one message must name, for the cases where it is known."""


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_one_message_and_exit_2(case, tmp_path):
    args = CASES[case](tmp_path)
    env = {}
    if case == "key file 3 GB":
        sparse(tmp_path / "log.key")
        env = {"VSIM_LOG_KEY": None, "VSIM_LOG_KEY_FILE": str(tmp_path / "log.key")}
    r = cli(*args, env=env)
    stderr = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2, (r.stdout, stderr)
    assert "Traceback" not in stderr and "Error:" not in stderr.replace("error:", "")
    assert stderr.strip().count("\n") == 0, stderr  # one message line
    if case in FIELD:
        assert f"{FIELD[case]}:" in stderr, stderr
    assert not list(tmp_path.glob("out.*json")), "nothing written"
    journals = [a for a in args if isinstance(a, str) and a.endswith(".journal.jsonl")]
    for j in journals:
        assert not Path(j.removesuffix(".journal.jsonl") + ".json").exists()


def test_a_mathtext_title_previews_as_plain_text(tmp_path):
    out = tmp_path / "p.png"
    r = cli("preview", str(HOSTILE / "hostile_mathtext_title.toml"), "--out", str(out), timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert out.stat().st_size > 10_000


def test_review_skips_hostile_logs_and_fifos_and_prints_no_control_characters(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    fifo(folder / "pipe.json")
    for i, name in enumerate(("a\r=cmd|x", "b\nfake  1  1", "\x1b[2Jc", "d\x00")):
        write(folder / f"bad{i}.json", log_text(set_trainee(name)))
    write(folder / "ok.json", log_text(lambda log: log["score"].update(critical=["\x1b[31mx\r"])))
    csv_out, html_out = tmp_path / "r.csv", tmp_path / "r.html"
    r = cli("review", str(folder), "--csv", str(csv_out), "--html", str(html_out), timeout=120)
    out = r.stdout.decode("utf-8")
    assert r.returncode == 0, r.stderr.decode()
    assert "Skipped 5 files" in out and "not a regular file" in out
    assert not any(c in out for c in "\r\x1b\x00\t"), repr(out)
    rows = list(csv.reader(io.StringIO(csv_out.read_text(encoding="utf-8"))))
    assert len(rows) == 2 and all("\x1b" not in c and "\r" not in c for c in rows[1])
    page = html_out.read_text(encoding="utf-8")
    assert "\x00" not in page and "\x1b" not in page


def test_csv_quotes_every_field_and_guards_formulas_on_its_own():
    from simulator.review.collect import Attempt
    from simulator.review.export_csv import COLUMNS, csv_text

    a = Attempt(file="f\r\n.json", trainee="x\r=cmd|' /C calc'!A0", scenario_id="s",
                scenario_sha256="0", started_at="", seed=1, simulator_version="1", signed=False,
                metrics={}, score=None)  # fmt: skip
    text = csv_text([a, Attempt(**{**a.__dict__, "trainee": "=1+1\x00"})])
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 3 and len(text.splitlines()) == 3  # no field starts a new line
    assert all(line.startswith('"') and line.endswith('"') for line in text.splitlines())
    names = [r[COLUMNS.index("trainee")] for r in rows[1:]]
    assert names[0].startswith("x") and "\r" not in names[0]
    assert names[1].startswith("'=") and "\x00" not in names[1]


def test_run_log_refuses_to_overwrite_unless_forced(tmp_path):
    out = write(tmp_path / "out.json", "keep me")
    script = short_script(tmp_path)
    r = cli(*run_with(script, tmp_path), timeout=300)
    assert r.returncode == 2 and "--force" in r.stderr.decode()
    assert out.read_text() == "keep me"
    r = cli(*run_with(script, tmp_path, "--force"), timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(out.read_text())["format"] == "vsim-attempt/1"


def test_an_exclusive_write_never_replaces_a_file_made_meanwhile(tmp_path):
    from simulator.records.log import write_text_atomic

    out = write(tmp_path / "out.json", "first")  # as if another run wrote it after our check
    with pytest.raises(FileExistsError):
        write_text_atomic(out, "second", exclusive=True)
    assert out.read_text() == "first" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


# ----- journals: a chain of MACs; damage and gaps are reported, the part before recovered -----


def _journal(tmp_path, key=None):
    from simulator.actions import load_script
    from simulator.procedure import Procedure
    from simulator.records.journal import AttemptRecorder
    from simulator.scenario import load_scenario

    actions = load_script(ROOT / "tests" / "data" / "personas" / "shallow_novice.json")[:6]
    proc = Procedure(load_scenario("first_case_l1"), render_images=False)
    rec = AttemptRecorder(proc, trainee="gap test", logs_dir=tmp_path, key=key)
    for a in actions:
        rec.submit(a)
    rec.close()  # the program dies: the journal stays
    return rec, actions


def _recover(rec):
    r = cli("recover", str(rec.journal_path), env={"VSIM_LOG_KEY": None}, timeout=300)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


@pytest.mark.usefixtures("shared_phantoms")
@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_a_journal_gap_or_damaged_line_recovers_the_part_before_it(tmp_path, damage):
    from simulator.records.log import read_log, script_actions

    rec, actions = _journal(tmp_path)
    lines = rec.journal_path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) == 1 + len(actions)
    if damage == "delete":
        del lines[3]  # the third action: line 4 of the file
    else:
        lines[3] = lines[3][:20] + "\x00garbage\n"
    rec.journal_path.write_text("".join(lines), encoding="utf-8")
    code, out, err = _recover(rec)
    assert code == 1, out + err  # documented: partly recovered
    assert "Traceback" not in err
    lost = len(actions) - (3 if damage == "delete" else 2)  # lines from line 4 to the end
    assert f"lines 4–{3 + lost} lost ({lost} lines; line 4:" in out, out
    assert ("chain is broken" if damage == "delete" else "not valid JSON") in out
    log = read_log(rec.log_path)
    assert log["recovered"] is True
    assert log["recovery"] == {
        "lost_lines": lost,
        "from_line": 4,
        "reason": log["recovery"]["reason"],
    }
    kept = script_actions(log)
    assert kept[:2] == actions[:2] and [a.do for a in kept[2:]] == ["finish"]


@pytest.mark.usefixtures("shared_phantoms")
def test_an_intact_journal_and_a_torn_last_line_recover_fully(tmp_path):
    rec, _ = _journal(tmp_path)
    with open(rec.journal_path, "a", encoding="utf-8") as fh:
        fh.write('{"t": 40.0, "do": "adv')  # the program died while writing it
    code, out, err = _recover(rec)
    assert code == 0 and "lost" not in out, out + err


@pytest.mark.usefixtures("shared_phantoms")
def test_a_keyed_chain_detects_a_line_edited_and_rechained_without_the_key(tmp_path):
    from simulator.records.journal import chain_mac, read_journal

    rec, actions = _journal(tmp_path, key=TEST_KEY)
    lines = [json.loads(x) for x in rec.journal_path.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["chain"] == "HMAC-SHA256"
    lines[2]["view"] = "ap" if lines[2]["view"] == "lateral" else "lateral"
    mac = lines[1]["mac"]
    for line in lines[2:]:  # a forger without the key re-chains with plain SHA-256
        line["mac"] = mac = chain_mac(None, mac, line)
    rec.journal_path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    _, kept, _ = read_journal(rec.journal_path, key=TEST_KEY)
    assert kept == actions[:1]
    with pytest.raises(UserError, match=r"header\.key_id"):
        read_journal(rec.journal_path, key=None)


# ----- the signing key: created once, race-free, in a private folder ----------------------------

KEY_CODE = "from simulator.records.signing import load_key; print(load_key(create=True).decode())"


def test_several_processes_creating_the_key_at_once_all_get_the_one_key(tmp_path):
    for round_ in range(3):
        home = tmp_path / f"home{round_}"
        env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "cfg")}
        env.pop("VSIM_LOG_KEY", None)
        env.pop("VSIM_LOG_KEY_FILE", None)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", KEY_CODE],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        results = [(p.communicate(timeout=60), p.returncode) for p in procs]
        assert all(code == 0 and not err for (_, err), code in results), results
        keys = {out.strip() for (out, _), _ in results}
        assert len(keys) == 1 and len(keys.pop()) == 64
        folder = home / "cfg" / "vsim"
        assert folder.stat().st_mode & 0o777 == 0o700
        assert (folder / "log.key").stat().st_mode & 0o777 == 0o600
        assert [p.name for p in folder.iterdir()] == ["log.key"]  # no temporary file left


def test_a_weak_key_file_gets_one_warning(tmp_path, monkeypatch, capsys):
    from simulator.records import signing

    key = tmp_path / "log.key"
    key.write_text("short\n")
    key.chmod(0o644)
    monkeypatch.delenv("VSIM_LOG_KEY", raising=False)
    monkeypatch.setenv("VSIM_LOG_KEY_FILE", str(key))
    monkeypatch.setattr(signing, "_warned", set())
    assert signing.load_key() == b"short" and signing.load_key() == b"short"
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "group or others" in err and "32 bytes" in err

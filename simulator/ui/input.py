"""Keys of the procedure screen → intents, and the help overlay's list of every key.

An intent is a tuple ``(name, value)`` the procedure screen carries out on its
:class:`~simulator.ui.session.LiveSession` (which turns it into Actions). Steps are physical:
degrees of needle angle and millimetres of needle travel per key press (the needle then moves
at the tissue's speed in mm per simulated second); degrees of C-arm rotation and tilt per press
(the arm then turns at the radiographer's speed); injection rates in ml/min.

The C-arm keys act on the selected arm (the one taking the pedal's view; a single C-arm's one
arm): ``[`` / ``]`` rotation −/+ (``]`` swings the tube toward the patient's left: RPO, see
:mod:`simulator.ui.carm_icon`), ``;`` / ``'`` tilt caudal / cranial, and the presets 1–4.
"""

from __future__ import annotations

import pygame

ANGLE_STEP_DEG = (0.5, 2.0)  # per press, (plain, with Shift)
MOVE_STEP_MM = (1.0, 5.0)
CARM_STEP_DEG = (1.0, 5.0)  # rotation or tilt per press, (plain, with Shift)
CARM_PRESETS: dict[str, tuple[float, float]] = {
    "ap": (0.0, 0.0),  # key 1: AP (rotation 0°, tilt 0°)
    "lateral": (90.0, 0.0),  # key 2: lateral (R LAT: the tube on the patient's left)
    "oblique_left": (-30.0, 0.0),  # key 3: LPO 30° (the detector over the left back)
    "oblique_right": (30.0, 0.0),  # key 4: RPO 30°
}
"""The radiographer's preset poses: name → (rotation_deg, tilt_deg)."""
RATE_STEP_ML_MIN = 0.5

KEY_HELP: tuple[tuple[str, str], ...] = (
    ("click on AP image", "choose the skin entry point (before inserting; any arm pose)"),
    ("Left / Right", "medial angle less / more (0.5°, Shift 2°)"),
    ("Up / Down", "caudal angle less / more (0.5°, Shift 2°)"),
    ("W or PgUp", "advance the needle 1 mm (Shift 5 mm)"),
    ("S or PgDn", "withdraw the needle 1 mm (Shift 5 mm)"),
    ("N", "select the other needle (left / right pedicle; a click selects its side's)"),
    ("Space", "fluoro pedal: tap = one pulse, hold = pulsed 7.5/s"),
    ("Tab, L, A", "select the view for the pedal (lateral / AP) and its arm"),
    ("[ / ]", "C-arm rotation −/+ 1° (Shift 5°); + = RPO"),
    ("; / '", "C-arm tilt caudal / cranial 1° (Shift 5°)"),
    ("1 2 3 4", "C-arm preset: AP, lateral, LPO 30°, RPO 30°"),
    ("M", "mix the cement (starts its curing clock)"),
    ("I (hold)", "inject while held"),
    ("+ / -", "injection rate up / down (0.5 ml/min)"),
    ("T", "time ×8 on/off (to wait for the cement)"),
    ("P or Esc", "pause / resume"),
    ("F", "finish the attempt (Enter confirms)"),
    ("F1 or H", "this help"),
    ("F12", "save a screenshot in the logs folder"),
)
"""Every key of the procedure screen, as the help overlay lists them."""

REPLAY_HELP: tuple[tuple[str, str], ...] = (
    ("Space", "play / pause"),
    ("Left / Right", "back / forward 10 s"),
    ("1 2 4 8", "speed 1×, 2×, 4×, 8×"),
    ("Home", "back to the start"),
    ("Esc", "leave the replay"),
)


def key_intent(event: pygame.event.Event) -> tuple[str, object] | None:
    """The intent of a KEYDOWN or KEYUP event on the procedure screen, or None."""
    shift = bool(getattr(event, "mod", 0) & pygame.KMOD_SHIFT)
    k = event.key
    if event.type == pygame.KEYUP:
        if k == pygame.K_SPACE:
            return ("pedal_up", None)
        if k == pygame.K_i:
            return ("inject_up", None)
        return None
    if event.type != pygame.KEYDOWN:
        return None
    angle = ANGLE_STEP_DEG[shift]
    move = MOVE_STEP_MM[shift]
    arm = CARM_STEP_DEG[shift]
    table = {
        pygame.K_LEFT: ("turn", (-angle, 0.0)),
        pygame.K_RIGHT: ("turn", (angle, 0.0)),
        pygame.K_UP: ("turn", (0.0, -angle)),
        pygame.K_DOWN: ("turn", (0.0, angle)),
        pygame.K_w: ("advance", move),
        pygame.K_PAGEUP: ("advance", move),
        pygame.K_s: ("withdraw", move),
        pygame.K_PAGEDOWN: ("withdraw", move),
        pygame.K_SPACE: ("pedal_down", None),
        pygame.K_TAB: ("select_view", None),
        pygame.K_l: ("select_view", "lateral"),
        pygame.K_a: ("select_view", "ap"),
        pygame.K_LEFTBRACKET: ("carm_step", (-arm, 0.0)),
        pygame.K_RIGHTBRACKET: ("carm_step", (arm, 0.0)),
        pygame.K_SEMICOLON: ("carm_step", (0.0, -arm)),
        pygame.K_QUOTE: ("carm_step", (0.0, arm)),
        pygame.K_1: ("carm_preset", "ap"),
        pygame.K_2: ("carm_preset", "lateral"),
        pygame.K_3: ("carm_preset", "oblique_left"),
        pygame.K_4: ("carm_preset", "oblique_right"),
        pygame.K_m: ("mix", None),
        pygame.K_i: ("inject_down", None),
        pygame.K_PLUS: ("rate", RATE_STEP_ML_MIN),
        pygame.K_EQUALS: ("rate", RATE_STEP_ML_MIN),
        pygame.K_KP_PLUS: ("rate", RATE_STEP_ML_MIN),
        pygame.K_MINUS: ("rate", -RATE_STEP_ML_MIN),
        pygame.K_KP_MINUS: ("rate", -RATE_STEP_ML_MIN),
        pygame.K_t: ("fast_time", None),
        pygame.K_p: ("pause", None),
        pygame.K_ESCAPE: ("pause", None),
        pygame.K_f: ("finish", None),
        pygame.K_F1: ("help", None),
        pygame.K_h: ("help", None),
        pygame.K_F12: ("screenshot", None),
        pygame.K_n: ("select_needle", None),
    }
    return table.get(k)

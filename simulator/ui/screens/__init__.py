"""The trainer's screens: start, procedure (with its monitors and HUD), debrief, replay.

Importing this package imports every screen once and registers each under its name
(:func:`simulator.ui.app.register_screen`); screens then switch with ``app.show(name, …)``
and never import each other.
"""

from simulator.ui.app import register_screen
from simulator.ui.screens import debrief, procedure, replay, start

register_screen("start", start.StartScreen)
register_screen("procedure", procedure.new_attempt)
register_screen("debrief", debrief.DebriefScreen)
register_screen("replay", replay.ReplayScreen)

"""The trainer's screens: start, procedure (with its monitors and HUD), debrief, replay."""

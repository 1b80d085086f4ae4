"""The needle: its pose, kinematics and breaches (:mod:`.model`) and the one definition of wall
contact that the needle, the planner and ``validate`` share (:mod:`.walls`)."""

"""Scoring: the rules that turn metrics and events into a score (:mod:`.rules`) and the
feedback sentences (:mod:`.feedback`). The rubric's tables live in :mod:`simulator.rubric`."""

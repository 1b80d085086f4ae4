"""Attempt records: the log format (:mod:`.log`: build, read and check ``vsim-attempt/1``),
signing (:mod:`.signing`), the crash journal and recovery (:mod:`.journal`) and verification
by replay (:mod:`.verify`)."""

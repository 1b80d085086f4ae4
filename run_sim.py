#!/usr/bin/env python3
"""Thin entry point: ``python run_sim.py …`` is the same as the ``vsim`` console script."""

import sys

from simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())

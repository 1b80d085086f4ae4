"""``python -m simulator …`` runs the command line."""

import sys

from simulator.cli import main

sys.exit(main())

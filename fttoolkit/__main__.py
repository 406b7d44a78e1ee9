"""``python -m fttoolkit``: the command line (see :mod:`fttoolkit.cli`)."""

import sys

from .cli import main

sys.exit(main())

"""``python -m fttoolkit``: the command line (see :mod:`fttoolkit.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

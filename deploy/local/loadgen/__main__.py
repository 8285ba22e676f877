"""``python -m loadgen``: drive the local stack; see ``loadgen.cli``."""

import sys

from loadgen.cli import main

if __name__ == "__main__":
    sys.exit(main())

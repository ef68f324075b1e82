"""`python -m webapp` (installed as `webapp`): the command line, in webapp.cli."""

import sys

from webapp.cli import main

if __name__ == "__main__":
    sys.exit(main())

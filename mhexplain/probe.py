"""``python -m mhexplain.probe``: see mhexplain.cli.probe."""
import sys

from mhexplain.cli.probe import main

if __name__ == "__main__":
    sys.exit(main())

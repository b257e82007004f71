"""``python -m mhexplain.score``: see mhexplain.cli.score."""
import sys

from mhexplain.cli.score import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m mhexplain.score``: see mhexplain.cli.score."""
import sys

from mhexplain.scoring.files import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m mhexplain.evaluate``: see mhexplain.cli.evaluate."""
import sys

from mhexplain.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m train``: see mhexplain.cli.train."""
import sys

from mhexplain.cli.train import main

if __name__ == "__main__":
    sys.exit(main())

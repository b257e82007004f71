"""mhexplain: train, compare and explain text classifiers on Reddit mental-health posts."""

__version__ = "0.1.0"

"""The ``calf-sklearn`` command line, one module per subcommand.

The public face of this package is :mod:`calf_sklearn.cli`; its documentation is there.
``entry`` holds the parser and ``main``; ``fit``, ``predict`` and ``benchmark`` each add
their subcommand; ``options`` and ``csv_io`` hold what they share.
"""

from .entry import build_parser, main, main_exit

__all__ = ["build_parser", "main", "main_exit"]

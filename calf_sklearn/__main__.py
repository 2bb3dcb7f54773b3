"""``python -m calf_sklearn`` is the ``calf-sklearn`` command."""

from ._apps.cli import main_exit

if __name__ == "__main__":
    main_exit()

"""Atomic file writes: readers see the old file or the new one, never a partial one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path, write):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    Two processes writing the same path both leave a complete file; a failed
    write leaves no temporary file behind.

    Parameters
    ----------
    path : str or path-like
        Destination; its folder is created if needed.
    write : callable
        Writes the content to the path it is given.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> target = Path(tempfile.mkdtemp()) / "a" / "file.txt"
    >>> write_atomically(target, lambda tmp: Path(tmp).write_text("done"))
    >>> target.read_text(), len(list(target.parent.iterdir()))
    ('done', 1)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

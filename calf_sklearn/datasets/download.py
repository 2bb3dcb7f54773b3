"""Fetching a data file: a temporary file, its checksums, then an atomic rename."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import warnings

from .._version import __version__

__all__ = ["ChecksumError"]

_TIMEOUT = 60.0
_CHUNK = 1 << 20


class ChecksumError(OSError):
    """A downloaded file does not match any checksum known for it.

    The message names the expected and the actual digests. The download is
    deleted before this is raised, so no damaged file is left in the data folder.

    Examples
    --------
    >>> issubclass(ChecksumError, OSError)
    True
    """


class DownloadFailed(Exception):
    """A download did not complete; the message says why (no file is left behind)."""


def _digests(path):
    """SHA-256 and Git blob SHA-1 of a file, in one pass."""
    sha256 = hashlib.sha256()
    blob = hashlib.sha1()
    blob.update(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            blob.update(chunk)
    return sha256.hexdigest(), blob.hexdigest()


def _verify(path, info, source):
    """Raise ChecksumError unless ``path`` matches a digest of ``info``; warn when none is known."""
    sha256, blob = _digests(path)
    if not info.sha256 and info.git_blob_sha1 is None:
        warnings.warn(
            f"{info.filename} downloaded from {source} could not be verified: no checksum is known for "
            f"{info.name}. Its sha256 is {sha256} (git blob sha1 {blob}); compare it with a trusted copy.",
            UserWarning,
            stacklevel=5,
        )
        return
    if sha256 in info.sha256 or blob == info.git_blob_sha1:
        return
    expected = [f"sha256 {d}" for d in info.sha256]
    if info.git_blob_sha1 is not None:
        expected.append(f"git blob sha1 {info.git_blob_sha1}")
    raise ChecksumError(
        f"Checksum mismatch for {info.filename} downloaded from {source}: expected "
        f"{' or '.join(expected)}, got sha256 {sha256} (git blob sha1 {blob}). "
        "The download was deleted; check the URL, or fetch the file by hand."
    )


def fetch(info, path):
    """Fetch ``info.url`` to ``path`` through a verified temporary file next to it."""
    request = urllib.request.Request(info.url, headers={"User-Agent": f"calf-sklearn/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT)
    except (urllib.error.URLError, OSError, ValueError) as error:
        detail = error if isinstance(error, urllib.error.HTTPError) else getattr(error, "reason", error)
        raise DownloadFailed(detail) from error
    with response:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            size = 0
            with os.fdopen(handle, "wb") as out:
                try:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        size += len(chunk)
                except (OSError, http.client.HTTPException) as error:
                    raise DownloadFailed(f"the transfer broke off: {error!r}") from error
            expected = response.headers.get("Content-Length")
            if expected is not None and expected.isdigit() and int(expected) != size:
                raise DownloadFailed(f"the transfer broke off after {size} of {expected} bytes")
            _verify(tmp, info, info.url)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

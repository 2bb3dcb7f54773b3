"""Principal word embeddings of a language model and their on-disk cache.

The public face of this module is :mod:`calf_sklearn.vocabulary`; its documentation is there.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from .._utils.atomic import write_atomically
from .._version import __version__

__all__ = [
    "cached_principal_word_embeddings",
    "default_cache_dir",
    "principal_word_embeddings",
]

CACHE_ENV = "CALF_SKLEARN_CACHE"
_CACHE_FORMAT = "1"
# Tokens per block when accumulating the Gram matrix: bounds the float64
# working copy to chunk * d values however large the vocabulary is.
_CHUNK = 8192


def _fix_signs(components):
    """Make the largest-magnitude entry of every row positive (in place)."""
    rows = np.arange(components.shape[0])
    pivots = components[rows, np.argmax(np.abs(components), axis=1)]
    components *= np.where(pivots < 0, -1.0, 1.0)[:, None]
    return components


def _sha256(array):
    digest = hashlib.sha256()
    digest.update(str((array.dtype.str, array.shape)).encode())
    digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def default_cache_dir():
    """Folder where principal word embeddings are cached.

    ``$CALF_SKLEARN_CACHE`` when set, else the platform's user cache folder
    (for example ``~/.cache/calf-sklearn`` on Linux).

    Returns
    -------
    pathlib.Path
        The folder; it may not exist yet.

    Examples
    --------
    >>> default_cache_dir().name != ""
    True
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("calf-sklearn", appauthor=False))


def principal_word_embeddings(weight, n_components):
    """Principal words of a word-embedding matrix, exactly and deterministically.

    PCA in which the samples are the ``d`` embedding dimensions and the
    features are the ``V`` tokens: the columns of ``weight.T`` are centred
    (each token over its ``d`` values) and the top ``n_components`` principal
    component scores ``U S`` are returned, one principal word per row. This is
    what an exact full-SVD PCA of ``weight.T`` gives, computed instead from the
    ``d x d`` Gram matrix with a symmetric eigensolver in float64, so it takes
    about a second for GPT-2 and never varies between runs.

    Sign rule: every principal word's largest-magnitude coordinate is positive.

    Parameters
    ----------
    weight : array-like of shape (V, d)
        Word-embedding matrix, one row per token (a CPU tensor works too).
    n_components : int
        Number of principal words, at most ``d``.

    Returns
    -------
    ndarray of shape (n_components, d), float64
        The principal words.

    Raises
    ------
    ValueError
        If ``weight`` is not 2-D and finite, or ``n_components`` is not in
        ``[1, d]``.

    Examples
    --------
    >>> import numpy as np
    >>> weight = np.random.default_rng(0).normal(size=(1000, 16))
    >>> words = principal_word_embeddings(weight, 4)
    >>> words.shape
    (4, 16)
    >>> bool(np.all(np.linalg.norm(words, axis=1)[:-1] >= np.linalg.norm(words, axis=1)[1:]))
    True
    """
    weight = np.asarray(weight)
    if weight.ndim != 2:
        raise ValueError(f"weight must be a 2-D (vocabulary, width) matrix, got shape {weight.shape}")
    n_tokens, width = weight.shape
    is_int = isinstance(n_components, (int, np.integer)) and not isinstance(n_components, bool)
    if not (is_int and 1 <= n_components <= width):
        raise ValueError(
            f"n_components must be an integer in [1, {width}] (the embedding width), got {n_components!r}."
        )
    gram = np.zeros((width, width))
    for start in range(0, n_tokens, _CHUNK):
        block = weight[start : start + _CHUNK].astype(np.float64)
        block -= block.mean(axis=1, keepdims=True)
        gram += block.T @ block
    if not np.all(np.isfinite(gram)):
        raise ValueError("weight contains NaN or infinite values.")
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    top = np.argsort(eigenvalues)[::-1][:n_components]
    singular = np.sqrt(np.clip(eigenvalues[top], 0.0, None))
    return _fix_signs((eigenvectors[:, top] * singular).T.copy())


def _read_cache(path, n_components, width):
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata() or {}
        words = handle.get_tensor("principal_words")
    if metadata.get("format") != _CACHE_FORMAT:
        raise ValueError(f"unknown cache format {metadata.get('format')!r}")
    if words.shape != (n_components, width) or words.dtype != np.float32:
        raise ValueError(f"unexpected shape {words.shape} or dtype {words.dtype}")
    if metadata.get("sha256") != _sha256(words):
        raise ValueError("checksum mismatch")
    return words


def _write_cache(path, words, source):
    from safetensors.numpy import save_file

    metadata = {
        "format": _CACHE_FORMAT,
        "sha256": _sha256(words),
        "source": source,
        "sign_rule": "largest-magnitude coordinate positive",
        "calf_sklearn": __version__,
    }
    # Two processes filling the same entry both leave a complete one.
    write_atomically(path, lambda tmp: save_file({"principal_words": words}, tmp, metadata=metadata))


def cached_principal_word_embeddings(weight, n_components, cache_dir=None, *, source=""):
    """Principal words of ``weight``, read from or added to the on-disk cache.

    Entries are keyed by a SHA-256 of the embedding matrix itself and by
    ``n_components``, so two backbones share an entry only when their
    embeddings are identical. Files are safetensors (no pickle) with a
    checksum; a damaged entry is recomputed and replaced atomically.

    Parameters
    ----------
    weight : array-like of shape (V, d)
        Word-embedding matrix.
    n_components : int
        Number of principal words.
    cache_dir : str or path-like, default=None
        Cache folder; ``None`` means :func:`default_cache_dir`.
    source : str, default=""
        Human-readable name of the backbone, stored in the file's metadata.

    Returns
    -------
    words : ndarray of shape (n_components, d), float32
        The principal words.
    path : pathlib.Path
        The cache entry.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> weight = np.random.default_rng(0).normal(size=(500, 8)).astype(np.float32)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     words, path = cached_principal_word_embeddings(weight, 3, folder)
    ...     again, _ = cached_principal_word_embeddings(weight, 3, folder)
    >>> bool(np.array_equal(words, again))
    True
    """
    weight = np.ascontiguousarray(np.asarray(weight, dtype=np.float32))
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = folder / "principal_words" / f"{_sha256(weight)[:24]}-k{n_components}.safetensors"
    if path.exists():
        try:
            return _read_cache(path, n_components, weight.shape[1]), path
        except Exception as error:  # noqa: BLE001 - any damage means: recompute and replace
            warnings.warn(
                f"Principal-word cache entry {path} is unreadable ({error}); "
                "recomputing it and replacing the file.",
                RuntimeWarning,
                stacklevel=2,
            )
    words = principal_word_embeddings(weight, n_components).astype(np.float32)
    try:
        _write_cache(path, words, source)
    except OSError as error:
        warnings.warn(
            f"Could not write the principal-word cache to {path} ({error}); "
            f"set cache_dir or ${CACHE_ENV} to a writable folder to reuse it.",
            RuntimeWarning,
            stacklevel=2,
        )
    return words, path

"""Tests of the principal word embeddings and their cache (METHOD.md section 4)."""

import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.decomposition import PCA

from calf_sklearn._torch import vocabulary
from calf_sklearn.vocabulary import (
    cached_principal_word_embeddings,
    default_cache_dir,
    principal_word_embeddings,
)


def _sign_rule(components):
    """Reference sign rule: each row's largest-magnitude coordinate is positive."""
    components = np.array(components, dtype=np.float64)
    for row in components:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return components


def _pca_reference(weight, k):
    return _sign_rule(PCA(n_components=k, svd_solver="full").fit_transform(weight.T).T)


def _svd_reference(weight, k):
    x = weight.T - weight.T.mean(axis=0, keepdims=True)  # centre each token (column)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return _sign_rule((u[:, :k] * s[:k]).T)


def _weight(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# (V, d, K): a V > d case and a V < d case. The centred d x V matrix has rank
# at most d - 1, so K stays below that; the leading singular values are distinct.
CASES = [(300, 24, 16), (50, 40, 30)]


@pytest.mark.parametrize("n_tokens,width,k", CASES)
def test_matches_full_svd_pca(n_tokens, width, k):
    """Equals sklearn's exact PCA of W.T (scores, transposed) with the sign rule applied."""
    weight = _weight((n_tokens, width))
    words = principal_word_embeddings(weight, k)
    assert words.shape == (k, width) and words.dtype == np.float64
    scale = np.abs(words).max()
    assert_allclose(words, _pca_reference(weight, k), rtol=1e-6, atol=1e-9 * scale)
    assert_allclose(words, _svd_reference(weight, k), rtol=1e-6, atol=1e-9 * scale)


@pytest.mark.parametrize("n_tokens,width,k", CASES)
def test_structure_of_principal_words(n_tokens, width, k):
    """Rows are orthogonal, sorted by decreasing norm (singular value), and follow the sign rule."""
    words = principal_word_embeddings(_weight((n_tokens, width), seed=3), k)
    norms = np.linalg.norm(words, axis=1)
    assert np.all(np.diff(norms) <= 1e-9 * norms[0])
    gram = words @ words.T
    assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-8 * norms[0] ** 2)
    pivots = words[np.arange(k), np.argmax(np.abs(words), axis=1)]
    assert np.all(pivots > 0)
    # Each principal word is a combination of centred token embeddings: orthogonal to ones.
    assert_allclose(words.sum(axis=1), 0.0, atol=1e-8 * norms[0])


def test_accepts_float32_and_tensor_input():
    """A float32 array or a CPU tensor gives the float64 result of the same numbers."""
    weight = _weight((200, 16), seed=5).astype(np.float32)
    expected = principal_word_embeddings(weight.astype(np.float64), 6)
    assert_allclose(principal_word_embeddings(weight, 6), expected, rtol=1e-10, atol=1e-12)
    assert_allclose(principal_word_embeddings(torch.from_numpy(weight), 6), expected, rtol=1e-10, atol=1e-12)


def test_deterministic_bits():
    """Two calls give the same bits (no randomized solver)."""
    weight = _weight((20000, 48), seed=7).astype(np.float32)
    first = principal_word_embeddings(weight, 20)
    second = principal_word_embeddings(weight.copy(), 20)
    assert first.tobytes() == second.tobytes()


def test_vocabulary_larger_than_chunk():
    """A vocabulary spanning several accumulation chunks still matches the exact reference."""
    weight = _weight((vocabulary._CHUNK * 2 + 17, 12), seed=11)
    words = principal_word_embeddings(weight, 8)
    assert_allclose(words, _svd_reference(weight, 8), rtol=1e-6, atol=1e-9 * np.abs(words).max())


@pytest.mark.parametrize("k", [0, -1, 25, 2.0, 2.5, "3", None, True])
def test_bad_n_components(k):
    """n_components must be an integer in [1, d]."""
    with pytest.raises(ValueError, match="n_components"):
        principal_word_embeddings(_weight((100, 24)), k)


def test_n_components_accepts_numpy_integer_and_full_width():
    """A NumPy integer works, and K = d is allowed."""
    weight = _weight((100, 8))
    assert principal_word_embeddings(weight, np.int64(3)).shape == (3, 8)
    assert principal_word_embeddings(weight, 8).shape == (8, 8)


@pytest.mark.parametrize("shape", [(100,), (4, 25, 8), ()])
def test_rejects_non_2d(shape):
    """Only a (V, d) matrix is accepted."""
    with pytest.raises(ValueError, match="2-D"):
        principal_word_embeddings(np.ones(shape), 1)


def test_rejects_non_finite():
    """NaN or infinite embeddings are refused."""
    weight = _weight((100, 8))
    weight[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN|infinite"):
        principal_word_embeddings(weight, 2)


# --- the on-disk cache -------------------------------------------------------


def _safetensors_header(path):
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + length])


def test_cache_file_is_safetensors(tmp_path):
    """The entry is a checksummed float32 safetensors file inside the given folder, not a pickle."""
    from safetensors.numpy import load_file

    weight = _weight((400, 16)).astype(np.float32)
    words, path = cached_principal_word_embeddings(weight, 5, tmp_path, source="tiny-test")
    assert path.is_file() and path.suffix == ".safetensors"
    assert tmp_path in path.parents
    assert words.dtype == np.float32 and words.shape == (5, 16)
    assert_allclose(words, principal_word_embeddings(weight, 5).astype(np.float32), rtol=0, atol=0)
    header = _safetensors_header(path)
    assert header["principal_words"]["dtype"] == "F32"
    assert header["principal_words"]["shape"] == [5, 16]
    assert header["__metadata__"]["source"] == "tiny-test"
    assert "sha256" in header["__metadata__"]
    stored = load_file(str(path))
    assert set(stored) == {"principal_words"}
    assert stored["principal_words"].tobytes() == words.tobytes()
    assert b"\x80\x04" not in path.read_bytes()[:2]  # not a pickle stream
    # No temporary files left beside the entry.
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_cache_reused_without_recomputing(tmp_path, monkeypatch):
    """The second call reads the entry and never recomputes."""
    weight = _weight((400, 16), seed=1).astype(np.float32)
    words, path = cached_principal_word_embeddings(weight, 5, tmp_path)
    mtime = path.stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("recomputed instead of reading the cache")

    monkeypatch.setattr(vocabulary, "principal_word_embeddings", fail)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, again_path = cached_principal_word_embeddings(weight, 5, tmp_path)
        # A torch tensor of the same numbers finds the same entry.
        from_tensor, _ = cached_principal_word_embeddings(torch.from_numpy(weight), 5, tmp_path)
    assert again_path == path and path.stat().st_mtime_ns == mtime
    assert again.tobytes() == words.tobytes() == from_tensor.tobytes()


def _corrupt_flip(path):
    raw = bytearray(path.read_bytes())
    for i in range(1, 9):  # the last bytes belong to the tensor data
        raw[-i] ^= 0xFF
    path.write_bytes(bytes(raw))


def _corrupt_truncate(path):
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 12])


def _corrupt_header(path):
    raw = bytearray(path.read_bytes())
    raw[8:12] = b"xxxx"
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("corrupt", [_corrupt_flip, _corrupt_truncate, _corrupt_header])
def test_corrupted_entry_detected_and_replaced(tmp_path, monkeypatch, corrupt):
    """A damaged entry warns (RuntimeWarning), is recomputed and replaced by a good one."""
    weight = _weight((400, 16), seed=2).astype(np.float32)
    words, path = cached_principal_word_embeddings(weight, 5, tmp_path)
    good = path.read_bytes()
    corrupt(path)
    assert path.read_bytes() != good
    with pytest.warns(RuntimeWarning, match="recomput"):
        again, again_path = cached_principal_word_embeddings(weight, 5, tmp_path)
    assert again_path == path
    assert again.tobytes() == words.tobytes()
    # Replaced by a complete entry (the header's metadata order may differ, the data may not).
    from safetensors.numpy import load_file

    assert load_file(str(path))["principal_words"].tobytes() == words.tobytes()
    assert len(path.read_bytes()) == len(good)
    # The replaced entry is read back without recomputing or warning.
    monkeypatch.setattr(vocabulary, "principal_word_embeddings", lambda *a, **k: 1 / 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third, _ = cached_principal_word_embeddings(weight, 5, tmp_path)
    assert third.tobytes() == words.tobytes()


def test_wrong_shape_entry_detected(tmp_path):
    """An entry whose tensor has the wrong shape for its key is recomputed."""
    from safetensors.numpy import save_file

    weight = _weight((400, 16), seed=4).astype(np.float32)
    words, path = cached_principal_word_embeddings(weight, 5, tmp_path)
    save_file({"principal_words": np.zeros((4, 16), np.float32)}, str(path), metadata={"format": "1"})
    with pytest.warns(RuntimeWarning):
        again, _ = cached_principal_word_embeddings(weight, 5, tmp_path)
    assert again.tobytes() == words.tobytes()


def test_default_cache_dir_honours_env(tmp_path, monkeypatch):
    """CALF_SKLEARN_CACHE sets the default folder, and cache_dir=None uses it."""
    folder = tmp_path / "my-cache"
    monkeypatch.setenv("CALF_SKLEARN_CACHE", str(folder))
    assert default_cache_dir() == folder
    _, path = cached_principal_word_embeddings(_weight((300, 8)).astype(np.float32), 3)
    assert folder in path.parents and path.is_file()


def test_default_cache_dir_without_env(monkeypatch):
    """Without the variable the folder is a per-user cache folder named after the package."""
    monkeypatch.delenv("CALF_SKLEARN_CACHE")
    assert "calf" in str(default_cache_dir()).lower()


def test_entries_keyed_by_k_and_matrix(tmp_path):
    """Different n_components, or a different matrix, give different entries."""
    weight = _weight((400, 16), seed=6).astype(np.float32)
    words3, path3 = cached_principal_word_embeddings(weight, 3, tmp_path)
    words5, path5 = cached_principal_word_embeddings(weight, 5, tmp_path)
    other = weight.copy()
    other[0, 0] += 1.0
    _, path_other = cached_principal_word_embeddings(other, 3, tmp_path)
    assert len({path3, path5, path_other}) == 3
    assert all(p.is_file() for p in (path3, path5, path_other))
    assert words3.shape == (3, 16) and words5.shape == (5, 16)
    # The leading words agree: K only truncates.
    assert_allclose(words5[:3], words3, rtol=1e-5, atol=1e-5 * np.abs(words3).max())


def test_unwritable_cache_warns_and_still_returns(tmp_path):
    """When the cache folder cannot be created the words are still returned, with a warning."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    weight = _weight((300, 8)).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="cache"):
        words, _ = cached_principal_word_embeddings(weight, 3, blocker)
    assert words.shape == (3, 8)


_FILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from calf_sklearn.vocabulary import cached_principal_word_embeddings
    weight = np.load(sys.argv[1])
    start = float(sys.argv[3])
    while time.time() < start:
        pass
    words, path = cached_principal_word_embeddings(weight, 24, sys.argv[2])
    np.save(sys.argv[4], words)
    print(path)
    """
)


def test_two_processes_fill_same_entry(tmp_path):
    """Two processes filling one entry at the same moment both succeed and leave a readable file."""
    from safetensors.numpy import load_file

    weight = _weight((40000, 64), seed=9).astype(np.float32)
    source = tmp_path / "weight.npy"
    np.save(source, weight)
    cache = tmp_path / "cache"
    start = time.time() + 3.0  # both wait for this moment, after their imports
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _FILL_SCRIPT,
                str(source),
                str(cache),
                repr(start),
                str(tmp_path / f"out{i}.npy"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for i in range(2)
    ]
    results = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, results):
        assert process.returncode == 0, err
    paths = {out.strip() for out, _ in results}
    assert len(paths) == 1
    path = cache / "principal_words" / os.path.basename(paths.pop())
    expected = principal_word_embeddings(weight, 24).astype(np.float32)
    for i in range(2):
        assert np.load(tmp_path / f"out{i}.npy").tobytes() == expected.tobytes()
    assert load_file(str(path))["principal_words"].tobytes() == expected.tobytes()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        words, _ = cached_principal_word_embeddings(weight, 24, cache)
    assert words.tobytes() == expected.tobytes()

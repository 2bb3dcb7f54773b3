"""Principal word embeddings of a language model and their on-disk cache.

CALF's cross-modal match attends from time-series tokens to a few hundred
"principal words": the principal components of the word-embedding matrix,
computed once per backbone. NumPy only.
"""

from ._torch.vocabulary import cached_principal_word_embeddings, default_cache_dir, principal_word_embeddings

# Not in __all__ (undocumented), but importable here as it always was.
from ._torch.vocabulary import CACHE_ENV  # noqa: F401

__all__ = ["cached_principal_word_embeddings", "default_cache_dir", "principal_word_embeddings"]

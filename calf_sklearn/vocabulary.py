"""Principal word embeddings of a language model and their on-disk cache.

CALF's cross-modal match attends from time-series tokens to a few hundred
"principal words": the principal components of the word-embedding matrix,
computed once per backbone. NumPy only.
"""

# CACHE_ENV is not in __all__ (undocumented), but stays importable here.
from ._torch.vocabulary import (
    CACHE_ENV,  # noqa: F401
    cached_principal_word_embeddings,
    default_cache_dir,
    principal_word_embeddings,
)

__all__ = ["cached_principal_word_embeddings", "default_cache_dir", "principal_word_embeddings"]

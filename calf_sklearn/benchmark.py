"""The paper's long-term forecasting protocol, with baselines, as one function.

:func:`run_benchmark` loads a data set, cuts it as METHOD.md section 10 says
(train / validation / test by row position, scaler fitted on the training
rows), trains CALF with the authors' per-data-set settings and the naive and
DLinear baselines on the same windows, scores every test window, and writes
a CSV and Markdown table and a PNG of forecasts. Finished models and CALF's
training state are kept in the run's folder, so running the same command
again after an interruption goes on where it stopped.
"""

from ._apps.long_term import (
    GPT2_SHAPE,
    MODELS,
    PRESETS,
    QUICK,
    ZERO_SHOT,
    BenchmarkInterrupted,
    preset,
    run_benchmark,
)

# Not in __all__ (undocumented), but importable here as it always was.
from ._apps.report import to_markdown  # noqa: F401
from ._apps.shapes import PUBLISHED_SHAPES, published_shape

__all__ = [
    "GPT2_SHAPE",
    "MODELS",
    "PRESETS",
    "PUBLISHED_SHAPES",
    "QUICK",
    "ZERO_SHOT",
    "BenchmarkInterrupted",
    "preset",
    "published_shape",
    "run_benchmark",
]

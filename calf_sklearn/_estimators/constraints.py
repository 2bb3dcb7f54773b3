"""What each CALFForecaster parameter may be: one table that validation, the CLI and sktime read.

scikit-learn's estimators declare ``_parameter_constraints``, a mapping from
parameter name to what it accepts, and validate from it at the start of
``fit``. :data:`CALF_CONSTRAINTS` is that table for CALF. The checks keep the
package's own messages (which say what to pass instead), and a constraint with
a fixed set of values lends the command line its ``choices``.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable

from .._series.conformal import METHODS as INTERVAL_METHODS
from .._utils import checks

# Names people often use for our loss names.
_LOSS_ALIASES = {"l2": "mse", "mae": "l1", "huber": "smooth_l1", "smoothl1": "smooth_l1"}


@dataclasses.dataclass(frozen=True)
class Integer:
    """An integer ``>= low`` (and ``<= high`` when given); booleans are refused."""

    low: int
    high: int | None = None

    def check(self, name, value):
        return checks.check_int(name, value, self.low, self.high)


@dataclasses.dataclass(frozen=True)
class Real:
    """A finite real number in the interval from ``low`` to ``high`` (``None``: unbounded)."""

    low: float = 0.0
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def check(self, name, value):
        return checks.check_real(name, value, self.low, self.high, self.low_open, self.high_open)


@dataclasses.dataclass(frozen=True)
class Boolean:
    """``True`` or ``False`` (or 1 and 0)."""

    def check(self, name, value):
        return checks.check_bool(name, value)


@dataclasses.dataclass(frozen=True)
class Options:
    """One of a fixed set of values; ``values`` may be a callable that lists them when asked.

    A callable keeps torch out of ``import calf_sklearn``: the loss names live
    in the torch layer and are read only when a parameter is checked.
    """

    values: tuple | Callable[[], tuple]
    aliases: dict = dataclasses.field(default_factory=dict)

    @property
    def choices(self):
        """The values accepted, in their order."""
        return tuple(self.values() if callable(self.values) else self.values)

    def check(self, name, value):
        return checks.check_choice(name, value, self.choices, self.aliases)


@dataclasses.dataclass(frozen=True)
class Custom:
    """A value checked by ``function(value)``; ``choices`` lists the canonical values, if any."""

    function: Callable
    choices_of: Callable[[], tuple] | None = None

    @property
    def choices(self):
        """The canonical values accepted, or ``None``."""
        return None if self.choices_of is None else tuple(self.choices_of())

    def check(self, name, value):
        return self.function(value)


@dataclasses.dataclass(frozen=True)
class Unchecked:
    """Checked where it is used (the backbone source, the device, the seed, the cache folder)."""

    def check(self, name, value):
        return value


def _losses():
    from .._torch.losses import LOSSES

    return tuple(LOSSES)


def _feature_losses():
    from .._torch.losses import FEATURE_LOSSES

    return tuple(FEATURE_LOSSES)


def _check_precision(value):
    from .._torch.precision import check_precision

    return check_precision(value)


def _precisions():
    from .._torch.precision import PRECISIONS

    return PRECISIONS


def _check_scaling(value):
    if value not in SCALINGS:
        hint = " Did you mean None?" if str(value).lower() in ("none", "raw", "false") else ""
        raise ValueError(f"scaling={value!r} is not one of 'standard' or None.{hint}")
    return value


#: What ``data_parallel`` accepts: follow the launch, insist on one, or never.
DATA_PARALLEL = ("auto", True, False)


def _check_data_parallel(value):
    if isinstance(value, bool) or (isinstance(value, str) and value == "auto"):
        return value
    hint = " Did you mean 'auto'?" if str(value).lower() in ("none", "default", "env") else ""
    raise ValueError(
        f"data_parallel={value!r} is not one of 'auto' (train data-parallel when launched by torchrun), "
        f"True (insist on it) or False (never).{hint}"
    )


def _verbosity(value):
    return checks.check_int("verbose", int(value) if isinstance(value, bool) else value, 0)


#: Window sampling schemes: every sliding window, or the M4 protocol's recent windows.
WINDOW_SAMPLING = ("sliding", "recent")
#: Scalings of the input series: standardised per series, or raw (None).
SCALINGS = ("standard", None)


def check_target_columns(value):
    """``target_columns``: None, one name or position, or a non-empty list of them without repeats."""
    if value is None:
        return None
    single = isinstance(value, (str, numbers.Integral)) and not isinstance(value, bool)
    items = [value] if single else value
    if isinstance(items, str) or not hasattr(items, "__len__") or not len(items):
        raise ValueError(
            f"target_columns must be None, a column name or position, or a non-empty list of them; got {value!r}."
        )
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, numbers.Integral)):
            raise TypeError(f"target_columns holds {item!r}; pass column names (str) or positions (int).")
    if len(set(items)) != len(list(items)):
        raise ValueError(f"target_columns repeats a column: {list(items)!r}.")
    return value


#: What a missing value (NaN) means: refused, or masked out.
MISSING = ("raise", "mask")

#: A fraction of the rows, or a number of rows (of every member of a panel), held out.
validation_size_constraint = Custom(checks.check_validation_size)

_LOSS = Options(_losses, _LOSS_ALIASES)
_WEIGHT = Real(0.0)
_POSITIVE = Real(0.0, low_open=True)

#: CALFForecaster's parameters and what each accepts, in the constructor's order.
CALF_CONSTRAINTS = {
    "pred_len": Integer(1),
    "seq_len": Integer(1),
    "llm": Unchecked(),
    "pretrained": Boolean(),
    "revision": Unchecked(),
    "local_files_only": Boolean(),
    "n_layers": Integer(1),
    "n_principal_words": Integer(1),
    "lora_r": Integer(1),
    "lora_alpha": _POSITIVE,
    "lora_dropout": Real(0.0, 1.0, high_open=True),
    "task_loss": _LOSS,
    "output_loss": _LOSS,
    "feature_loss": Options(_feature_losses, _LOSS_ALIASES),
    "task_weight": _WEIGHT,
    "output_weight": _WEIGHT,
    "feature_weight": _WEIGHT,
    "learning_rate": _POSITIVE,
    "projection_learning_rate": _POSITIVE,
    "cosine_t_max": Integer(1),
    "batch_size": Integer(1),
    "window_stride": Integer(1),
    "window_sampling": Options(WINDOW_SAMPLING),
    "history_size": _POSITIVE,
    "padding": Boolean(),
    "scaling": Custom(_check_scaling, lambda: SCALINGS),
    "seasonal_period": Integer(1),
    "interval_method": Options(INTERVAL_METHODS),
    "max_epochs": Integer(1),
    "patience": Integer(1),
    "validation_size": validation_size_constraint,
    "missing": Options(MISSING),
    "min_observed": Real(0.0, 1.0),
    "target_columns": Custom(check_target_columns),
    "device": Unchecked(),
    "precision": Custom(_check_precision, _precisions),
    "compile": Boolean(),
    "data_parallel": Custom(_check_data_parallel, lambda: DATA_PARALLEL),
    "cache_dir": Unchecked(),
    "random_state": Unchecked(),
    "verbose": Custom(_verbosity),
}


def choices(name, constraints=CALF_CONSTRAINTS):
    """The values a parameter accepts when they form a fixed set (for the CLI), else ``None``.

    Parameters
    ----------
    name : str
        A parameter name.
    constraints : dict, default=CALF_CONSTRAINTS
        The table to read.

    Returns
    -------
    list or None

    Examples
    --------
    >>> choices("window_sampling"), choices("seq_len")
    (['sliding', 'recent'], None)
    """
    found = getattr(constraints[name], "choices", None)
    return None if found is None else list(found)


def validate_params(estimator, constraints=CALF_CONSTRAINTS):
    """Check every parameter of ``estimator`` against ``constraints``; raise on the first bad one.

    Parameters
    ----------
    estimator : estimator
        Its attributes named in ``constraints`` are checked.
    constraints : dict, default=CALF_CONSTRAINTS
        Parameter name to constraint.

    Raises
    ------
    TypeError or ValueError
        Naming the parameter, what it got and what it accepts.

    Examples
    --------
    >>> from calf_sklearn import CALFForecaster
    >>> validate_params(CALFForecaster(window_sampling="recnet"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: window_sampling='recnet' is not one of ['recent', 'sliding']. Did you mean 'recent'?
    """
    for name, constraint in constraints.items():
        constraint.check(name, getattr(estimator, name))


def check_missing_params(estimator):
    """Refuse what ``missing="mask"`` cannot be combined with, saying what to use instead."""
    if getattr(estimator, "missing", "raise") != "mask":
        return
    if getattr(estimator, "padding", False):
        raise ValueError(
            "missing='mask' does not combine with padding=True: padding's zeros would be read as "
            "observed values in training and as missing ones when forecasting. Pass members of at "
            "least seq_len + pred_len rows, or fill the gaps and keep padding."
        )
    if getattr(estimator, "window_sampling", "sliding") == "recent":
        raise ValueError(
            "missing='mask' needs window_sampling='sliding': the M4 protocol's recent windows "
            "do not mask missing targets."
        )
    mase = [name for name in ("task_loss", "output_loss") if getattr(estimator, name, None) == "mase"]
    if mase:
        raise ValueError(
            f"{mase[0]}='mase' scales by the look-back's seasonal differences, which missing "
            "values leave undefined; with missing='mask' use 'l1', 'mse', 'smooth_l1' or 'smape'."
        )


def check_calf_params(estimator):
    """Validate a CALFForecaster's parameters: each against the table, then their combinations."""
    validate_params(estimator)
    check_missing_params(estimator)
    est = estimator
    if est.task_weight == est.output_weight == est.feature_weight == 0:
        raise ValueError("task_weight, output_weight and feature_weight are all 0: nothing to train.")
    if "smape" in (est.task_loss, est.output_loss) and est.scaling is not None:
        raise ValueError(
            "sMAPE compares relative errors of the original values, which standardising (a shift) "
            "changes: with task_loss or output_loss='smape' pass scaling=None (CALF normalises every "
            "window itself)."
        )
    if "mase" in (est.task_loss, est.output_loss) and est.seasonal_period >= est.seq_len:
        raise ValueError(
            f"The 'mase' loss scales by the look-back's error at lag seasonal_period={est.seasonal_period}, "
            f"which needs seq_len > seasonal_period; got seq_len={est.seq_len}."
        )

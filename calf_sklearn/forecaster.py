"""The scikit-learn estimator: validates, then delegates to the torch parts."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _params
from ._timeindex import check_time_index, future_index, index_spec
from ._version import ARTIFACT_FORMAT, __version__
from .windows import WindowedSeries, temporal_split

__all__ = ["CALFForecaster"]


def _llm_name(llm):
    return llm if isinstance(llm, str) else type(llm).__name__


class CALFForecaster(BaseEstimator):
    """Multivariate forecaster that fine-tunes GPT-2 the CALF way.

    CALF (Liu et al., arXiv 2403.07300) feeds each series' look-back window as
    one token to a GPT-2 fine-tuned with LoRA (the temporal branch), and
    aligns it during training with a frozen textual branch that sees the same
    tokens re-expressed through the language model's principal word
    embeddings. Only the temporal branch is kept for forecasting.

    ``fit`` learns from one multivariate series (time steps x series); the
    last ``validation_size`` of it drives early stopping. ``predict`` then
    forecasts the steps after the training data, or after any look-back
    window you pass.

    Parameters
    ----------
    pred_len : int, default=96
        Horizon the network forecasts in one pass. Longer horizons are
        forecast recursively by :meth:`predict`.
    seq_len : int, default=96
        Look-back window length.
    llm : str, path-like, dict or transformers.GPT2Config, default="gpt2"
        The language model: a Hugging Face hub id, or a local folder saved
        with ``save_pretrained`` (both with ``pretrained=True``); or a
        ``GPT2Config`` / dict of its fields for a randomly initialised
        backbone of that shape (with ``pretrained=False``).
    pretrained : bool, default=True
        Load published weights. ``False`` initialises the backbone randomly
        (from ``random_state``); it must be said explicitly, because a random
        backbone is a different model from the paper's.
    revision : str, default=None
        Branch, tag or commit of a hub model.
    local_files_only : bool, default=False
        Never contact the hub; use the local Hugging Face cache only.
    n_layers : int, default=6
        GPT-2 blocks kept (the first ones).
    n_principal_words : int, default=500
        Number of principal word embeddings (at most the model width).
    lora_r, lora_alpha, lora_dropout : int, float, float, default=8, 32, 0.1
        LoRA on the temporal branch's fused attention projection.
    task_loss, output_loss, feature_loss : {"l1", "smooth_l1", "mse"}, default="l1"
        Distance of the supervised, output-consistency and feature terms.
    task_weight, output_weight, feature_weight : float, default=1.0, 1.0, 0.01
        Weights of the three loss terms; 0 removes a term (and, for the
        output and feature terms together, the textual branch's cost).
    learning_rate : float, default=5e-4
        Adam learning rate of the network (cosine-annealed per epoch).
    projection_learning_rate : float, default=1e-4
        Constant Adam learning rate of the feature projections.
    cosine_t_max : int, default=20
        Period, in epochs, of the cosine schedule.
    batch_size : int, default=32
        Windows per training step (and per forward pass when predicting).
    max_epochs : int, default=20
        Upper bound on training epochs.
    patience : int, default=5
        Epochs without a better validation MSE before training stops.
    validation_size : float or int, default=0.2
        Fraction (or number) of the last rows held out for early stopping.
        0 trains for ``max_epochs`` and keeps the last weights.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    cache_dir : str or path-like, default=None
        Folder of the principal-word cache; ``None`` uses
        ``$CALF_SKLEARN_CACHE`` or the platform's user cache folder.
    random_state : int, RandomState or None, default=None
        Seeds initialisation, dropout and shuffling. Fits with the same
        integer give identical forecasts on the same machine.
    verbose : int, default=0
        0 silent; 1 a progress bar over epochs with the running loss and
        validation MSE; 2 also a bar over batches.

    Attributes
    ----------
    n_features_in_ : int
        Number of series seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame with string columns.
    module_ : CALFNetwork
        The trained network, reduced to what forecasting needs (temporal
        branch with LoRA merged into its weights).
    history_ : list of dict
        Per epoch: ``train_loss`` and its terms ``task_loss``,
        ``output_loss``, ``feature_loss`` (unweighted), ``val_mse``,
        ``learning_rate`` and ``seconds``.
    best_epoch_ : int or None
        Epoch whose weights were kept.
    training_interrupted_ : bool
        Whether ``fit`` was stopped with Ctrl-C (the best weights so far are kept).
    device_ : torch.device
        Where the network lives.
    scaler_ : sklearn.preprocessing.StandardScaler
        Per-series scaling fitted on the training rows; the network sees
        scaled data and forecasts are returned in the original units.
    last_window_ : ndarray of shape (seq_len, n_features_in_)
        The last ``seq_len`` rows of the training data, from which
        ``predict()`` without ``X`` forecasts.

    See Also
    --------
    calf_sklearn.principal_word_embeddings : The vocabulary reduction.
    calf_sklearn.mse_scorer : Scorer for ``GridSearchCV``.

    Notes
    -----
    Pickling (``pickle``/``joblib``) stores the trained network on the CPU
    without the vocabulary matrix, the textual branch or other training-only
    parts, so a saved forecaster predicts offline on any machine. Loading a
    pickle runs code from the file: only load files you trust.

    Examples
    --------
    >>> import numpy as np
    >>> from calf_sklearn import CALFForecaster
    >>> t = np.arange(300)
    >>> X = np.column_stack([np.sin(t / 8), np.cos(t / 12)])
    >>> tiny = {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 128}
    >>> model = CALFForecaster(pred_len=12, seq_len=36, llm=tiny, pretrained=False,
    ...                        n_layers=2, n_principal_words=16, max_epochs=2,
    ...                        random_state=0).fit(X)
    >>> model.predict().shape
    (12, 2)
    >>> model.predict(24).shape  # longer than pred_len: recursive, with a warning
    (24, 2)
    """

    def __init__(
        self,
        pred_len=96,
        seq_len=96,
        *,
        llm="gpt2",
        pretrained=True,
        revision=None,
        local_files_only=False,
        n_layers=6,
        n_principal_words=500,
        lora_r=8,
        lora_alpha=32,
        lora_dropout=0.1,
        task_loss="l1",
        output_loss="l1",
        feature_loss="l1",
        task_weight=1.0,
        output_weight=1.0,
        feature_weight=0.01,
        learning_rate=5e-4,
        projection_learning_rate=1e-4,
        cosine_t_max=20,
        batch_size=32,
        max_epochs=20,
        patience=5,
        validation_size=0.2,
        device="auto",
        cache_dir=None,
        random_state=None,
        verbose=0,
    ):
        self.pred_len = pred_len
        self.seq_len = seq_len
        self.llm = llm
        self.pretrained = pretrained
        self.revision = revision
        self.local_files_only = local_files_only
        self.n_layers = n_layers
        self.n_principal_words = n_principal_words
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.task_loss = task_loss
        self.output_loss = output_loss
        self.feature_loss = feature_loss
        self.task_weight = task_weight
        self.output_weight = output_weight
        self.feature_weight = feature_weight
        self.learning_rate = learning_rate
        self.projection_learning_rate = projection_learning_rate
        self.cosine_t_max = cosine_t_max
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_size = validation_size
        self.device = device
        self.cache_dir = cache_dir
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------------ input

    def _validate_series(self, X, *, reset):
        """2-D float array of X, plus how to mirror X in the output."""
        kind, index, columns, name = "array", None, None, None
        if isinstance(X, pd.Series):
            kind, name, X = "series", X.name, X.to_frame()
        if isinstance(X, pd.DataFrame):
            kind = "frame" if kind == "array" else kind
            index, columns = X.index, X.columns
            check_time_index(index)
        values = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite=True)
        return values, {"kind": kind, "columns": columns, "index": index, "name": name}

    def _check_backbone_fits(self, config, n_series):
        if self.n_layers > config.n_layer:
            raise ValueError(
                f"n_layers={self.n_layers} exceeds the backbone's {config.n_layer} blocks; "
                f"use n_layers <= {config.n_layer}."
            )
        if self.n_principal_words > config.n_embd:
            raise ValueError(
                f"n_principal_words={self.n_principal_words} exceeds the backbone's embedding "
                f"width {config.n_embd}; use n_principal_words <= {config.n_embd}."
            )
        if n_series > config.n_positions:
            raise ValueError(
                f"X has {n_series} series but the backbone has only {config.n_positions} "
                "positions (each series is one token); forecast the series in groups of at "
                f"most {config.n_positions}."
            )
        if config.n_embd % config.n_head:
            raise ValueError(
                f"The backbone's width {config.n_embd} is not divisible by its {config.n_head} heads."
            )

    def _check_backbone_source(self):
        from transformers import PretrainedConfig

        is_config = isinstance(self.llm, (dict, PretrainedConfig))
        if is_config and self.pretrained:
            raise ValueError(
                "llm is a configuration, which has no published weights; pass pretrained=False "
                "to train a randomly initialised backbone of that shape, or name a hub id or "
                "local folder as llm."
            )
        if not is_config and not isinstance(self.llm, (str, bytes)) and not hasattr(self.llm, "__fspath__"):
            raise TypeError(
                f"llm must be a hub id, a local folder, a dict or a GPT2Config, got {type(self.llm).__name__}."
            )

    # -------------------------------------------------------------------- fit

    def fit(self, X, y=None):
        """Train on a multivariate series.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series), DataFrame or Series
            The series, oldest row first. A DataFrame's DatetimeIndex is kept
            to stamp forecasts; it must be sorted and free of repeats.
        y : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        self : CALFForecaster
            The fitted forecaster. If ``fit`` raises, a forecaster fitted
            before is left exactly as it was.
        """
        saved = dict(self.__dict__)
        try:
            return self._fit(X)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit(self, X):
        import torch

        from .backbone import backbone_config, load_backbone
        from .losses import CALFLoss
        from .network import CALFNetwork
        from .training import Trainer
        from .vocabulary import cached_principal_word_embeddings

        _params.check_params(self)
        self._check_backbone_source()
        device = _params.resolve_device(self.device)
        values, meta = self._validate_series(X, reset=True)
        n_rows, n_series = values.shape
        validation_size = _params.check_validation_size(self.validation_size)
        train_stop, validation_start = temporal_split(n_rows, validation_size, self.seq_len, self.pred_len)
        config = backbone_config(self.llm, revision=self.revision, local_files_only=self.local_files_only)
        self._check_backbone_fits(config, n_series)

        scaler = StandardScaler().fit(values[:train_stop])
        scaled = scaler.transform(values).astype(np.float32)
        train = WindowedSeries(scaled[:train_stop], self.seq_len, self.pred_len)
        validation = (
            WindowedSeries(scaled[validation_start:], self.seq_len, self.pred_len)
            if validation_start is not None
            else None
        )
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        rng_devices = [device.index or 0] if device.type == "cuda" else []
        # fork_rng: seed torch for this fit without disturbing the caller's RNG.
        with torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(seed)
            backbone = load_backbone(
                self.llm,
                pretrained=self.pretrained,
                n_layers=self.n_layers,
                revision=self.revision,
                local_files_only=self.local_files_only,
            )
            words, _ = cached_principal_word_embeddings(
                backbone.wte.weight.detach().cpu().numpy(),
                self.n_principal_words,
                self.cache_dir,
                source=str(_llm_name(self.llm)),
            )
            network = CALFNetwork(
                backbone,
                seq_len=self.seq_len,
                pred_len=self.pred_len,
                principal_words=torch.from_numpy(words),
                lora_r=self.lora_r,
                lora_alpha=self.lora_alpha,
                lora_dropout=self.lora_dropout,
            ).to(device)
            loss = CALFLoss(
                self.task_loss,
                self.output_loss,
                self.feature_loss,
                self.task_weight,
                self.output_weight,
                self.feature_weight,
            )
            trainer = Trainer(
                network,
                loss,
                learning_rate=self.learning_rate,
                projection_learning_rate=self.projection_learning_rate,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                patience=self.patience,
                cosine_t_max=self.cosine_t_max,
                device=device,
                generator=torch.Generator().manual_seed(seed),
                verbose=int(self.verbose),
            )
            result = trainer.fit(train, validation)
        self.module_ = network.strip_for_inference().eval()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.training_interrupted_ = result.interrupted
        self.device_ = device
        self.scaler_ = scaler
        self.last_window_ = values[-self.seq_len :].copy()
        self._output_ = {key: meta[key] for key in ("kind", "columns", "name")}
        self._index_spec_ = index_spec(meta["index"]) if meta["index"] is not None else None
        return self

    # ---------------------------------------------------------------- predict

    def _scale(self, values):
        return ((values - self.scaler_.mean_) / self.scaler_.scale_).astype(np.float32)

    def _unscale(self, values):
        return values.astype(np.float64) * self.scaler_.scale_ + self.scaler_.mean_

    def _forecast(self, windows, horizon):
        """Forecast (N, >= seq_len, M) raw windows ``horizon`` steps ahead."""
        from .network import forecast_windows

        context = self._scale(windows[:, -self.seq_len :])
        rounds = math.ceil(horizon / self.pred_len)
        if rounds > 1:
            warnings.warn(
                f"horizon={horizon} exceeds pred_len={self.pred_len}: forecasting recursively in "
                f"{rounds} rounds, feeding forecasts back as inputs (errors compound). Fit with "
                f"pred_len >= {horizon} to forecast it directly.",
                UserWarning,
                stacklevel=3,
            )
        pieces = []
        for _ in range(rounds):
            piece = forecast_windows(self.module_, context, self.batch_size, self.device_)
            pieces.append(piece)
            context = np.concatenate([context, piece], axis=1)[:, -self.seq_len :]
        return self._unscale(np.concatenate(pieces, axis=1)[:, :horizon])

    def _check_horizon(self, horizon):
        if horizon is None:
            return self.pred_len
        return _params.check_int("horizon", horizon, 1)

    def predict(self, X=None, horizon=None):
        """Forecast the steps that follow a series.

        Parameters
        ----------
        X : None, int, array-like of shape (n_steps, n_series) or (n_windows, seq_len, n_series)
            ``None`` forecasts after the end of the training data. A 2-D
            array, DataFrame or Series with at least ``seq_len`` rows
            forecasts after its last row (its last ``seq_len`` rows are the
            look-back). A 3-D array forecasts each window of a batch. An
            integer is taken as ``horizon`` (``predict(24)``).
        horizon : int, default=None
            Steps to forecast; ``None`` means ``pred_len``. Above
            ``pred_len`` the forecast is recursive and a warning says so.

        Returns
        -------
        ndarray of shape (horizon, n_series) or (n_windows, horizon, n_series), DataFrame or Series
            In the container of the input (of the training data when ``X`` is
            ``None``): a DataFrame keeps the columns and continues the index
            (future timestamps at the index's frequency).
        """
        check_is_fitted(self)
        if isinstance(X, numbers.Integral) and not isinstance(X, bool):
            if horizon is not None:
                raise TypeError("predict got an integer X and a horizon; pass the horizon once.")
            X, horizon = None, X
        horizon = self._check_horizon(horizon)
        if X is None:
            forecast = self._forecast(self.last_window_[None], horizon)[0]
            return self._wrap(forecast, self._output_, self._index_spec_)
        if getattr(X, "ndim", 2) == 3 or (isinstance(X, (list, tuple)) and np.ndim(X) == 3):
            windows = check_array(X, allow_nd=True, dtype=np.float64, ensure_all_finite=True)
            if windows.shape[2] != self.n_features_in_ or windows.shape[1] < self.seq_len:
                raise ValueError(
                    f"3-D X must have shape (n_windows, >= seq_len={self.seq_len}, "
                    f"n_series={self.n_features_in_}), got {windows.shape}."
                )
            return self._forecast(windows, horizon)
        values, meta = self._validate_series(X, reset=False)
        if len(values) < self.seq_len:
            raise ValueError(
                f"X has {len(values)} rows but the look-back needs seq_len={self.seq_len}; "
                f"pass at least the last {self.seq_len} rows of the series."
            )
        forecast = self._forecast(values[None], horizon)[0]
        spec = index_spec(meta["index"]) if meta["index"] is not None else None
        return self._wrap(forecast, meta, spec)

    @staticmethod
    def _wrap(forecast, meta, spec):
        """Put a (horizon, M) forecast in the container described by ``meta``."""
        if meta["kind"] == "array":
            return forecast
        index = future_index(spec, len(forecast))
        if meta["kind"] == "series":
            return pd.Series(forecast[:, 0], index=index, name=meta["name"])
        return pd.DataFrame(forecast, index=index, columns=meta["columns"])

    # ----------------------------------------------------------------- scores

    def evaluate(self, X, stride=1):
        """Errors of rolling forecasts over a series.

        Every window of ``seq_len + pred_len`` rows of ``X`` (``stride`` apart)
        is forecast from its first ``seq_len`` rows and compared with its last
        ``pred_len``, on the scale fitted in ``fit`` (as in the paper's
        protocol, so every series counts alike).

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series) or DataFrame
            At least ``seq_len + pred_len`` rows.
        stride : int, default=1
            Distance between window starts.

        Returns
        -------
        dict
            ``mse``, ``mae`` and ``n_windows``.
        """
        from .network import forecast_windows

        check_is_fitted(self)
        stride = _params.check_int("stride", stride, 1)
        values, _ = self._validate_series(X, reset=False)
        need = self.seq_len + self.pred_len
        if len(values) < need:
            raise ValueError(
                f"X has {len(values)} rows; scoring needs at least seq_len + pred_len = "
                f"{self.seq_len} + {self.pred_len} = {need} rows."
            )
        windows = WindowedSeries(self._scale(values), self.seq_len, self.pred_len, stride=stride)
        squared = absolute = 0.0
        chunk = max(self.batch_size, 256)
        for start in range(0, len(windows), chunk):
            x, y = windows.batch(np.arange(start, min(start + chunk, len(windows))))
            error = forecast_windows(self.module_, x, self.batch_size, self.device_).astype(np.float64) - y
            squared += float(np.square(error).sum())
            absolute += float(np.abs(error).sum())
        count = len(windows) * self.pred_len * values.shape[1]
        return {"mse": squared / count, "mae": absolute / count, "n_windows": len(windows)}

    def score(self, X, y=None):
        """Negative mean squared error of rolling forecasts over ``X``.

        Greater is better, so ``GridSearchCV`` with ``TimeSeriesSplit`` can
        use it as its default scoring. See :meth:`evaluate`.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series) or DataFrame
            At least ``seq_len + pred_len`` rows.
        y : None
            Ignored.

        Returns
        -------
        float
            ``-mse`` on the fitted scale.
        """
        return -self.evaluate(X)["mse"]

    # ------------------------------------------------------------ persistence

    def __getstate__(self):
        # A copy: BaseEstimator may hand back the live __dict__.
        state = dict(super().__getstate__())
        state["_calf_sklearn_version"] = __version__
        if "module_" in state:
            state["module_"] = {
                "artifact_format": ARTIFACT_FORMAT,
                "calf_sklearn_version": __version__,
                **self.module_.export(),
            }
            state["device_"] = str(self.device_)
        return state

    def __setstate__(self, state):
        payload = state.get("module_")
        if isinstance(payload, dict):
            import torch

            from .network import CALFNetwork

            saved_format = payload.get("artifact_format")
            if saved_format != ARTIFACT_FORMAT:
                raise ValueError(
                    f"This forecaster was saved by calf-sklearn "
                    f"{payload.get('calf_sklearn_version', 'unknown')} (artifact format "
                    f"{saved_format}); calf-sklearn {__version__} reads format {ARTIFACT_FORMAT}. "
                    "Load it with the version that saved it, or fit it again."
                )
            device = torch.device(state.get("device_", "cpu"))
            if device.type == "cuda" and not torch.cuda.is_available():
                device = torch.device("cpu")
            state = dict(state)
            state["module_"] = CALFNetwork.from_export(payload).to(device)
            state["device_"] = device
        super().__setstate__(state)

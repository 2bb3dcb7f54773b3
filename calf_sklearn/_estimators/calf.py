"""The scikit-learn estimator: validates, then delegates to the torch parts.

The public face of this module is :mod:`calf_sklearn.forecaster`; its documentation is there.
"""

from __future__ import annotations

from typing import ClassVar

from .._utils import checks
from .backbone_checks import check_backbone_source
from .base import WindowForecaster
from .constraints import CALF_CONSTRAINTS, check_calf_params
from .pickling import NetworkPicklingMixin

__all__ = ["CALFForecaster"]


class CALFForecaster(NetworkPicklingMixin, WindowForecaster):
    """Multivariate forecaster that fine-tunes GPT-2 (or another decoder LLM) the CALF way.

    CALF (Liu et al., arXiv 2403.07300) feeds each series' look-back window as
    one token to a GPT-2 fine-tuned with LoRA (the temporal branch), and
    aligns it during training with a frozen textual branch that sees the same
    tokens re-expressed through the language model's principal word
    embeddings. Only the temporal branch is kept for forecasting.

    ``fit`` learns from a multivariate series (time steps x series) or a panel
    of them, holding out the last ``validation_size`` for early stopping and the
    intervals; ``predict`` forecasts after the training data or any look-back.

    Parameters
    ----------
    pred_len : int, default=96
        Horizon the network forecasts in one pass. Longer horizons are
        forecast recursively by :meth:`predict`.
    seq_len : int, default=96
        Look-back window length.
    llm : str, path-like, dict or transformers.PretrainedConfig, default="gpt2"
        The language model: a Hugging Face hub id, or a local folder saved
        with ``save_pretrained`` (both with ``pretrained=True``); or a
        configuration (``GPT2Config``, ``LlamaConfig``, ..., or a dict of its
        fields, with ``model_type`` unless GPT-2) for a randomly initialised
        backbone of that shape (with ``pretrained=False``). GPT-2 (the
        paper's), Llama, Qwen2, Mistral, GPT-NeoX and Phi models run; see
        :func:`calf_sklearn.backbone.supported_families`.
    pretrained : bool, default=True
        Load published weights. ``False`` initialises the backbone randomly
        (from ``random_state``); it must be said explicitly, because a random
        backbone is a different model from the paper's.
    revision : str, default=None
        Branch, tag or commit of a hub model.
    local_files_only : bool, default=False
        Never contact the hub; use the local Hugging Face cache only.
    n_layers : int, default=6
        Decoder blocks of the language model kept (the first ones).
    n_principal_words : int, default=500
        Number of principal word embeddings (at most the model width).
    lora_r, lora_alpha, lora_dropout : int, float, float, default=8, 32, 0.1
        LoRA on the temporal branch's attention query, key and value
        projections (GPT-2's fused ``c_attn``).
    task_loss, output_loss : {"l1", "smooth_l1", "mse", "smape", "mase"}, default="l1"
        Distance of the supervised and the output-consistency terms.
        ``"smape"`` (M4's sMAPE, which needs ``scaling=None``) and ``"mase"``
        (mean absolute error scaled by each look-back's seasonal naive error
        at lag ``seasonal_period``) are the M4 protocol's; with either as the
        task loss, early stopping watches that loss on the validation windows
        instead of their MSE, which raw values of different scales would let
        the largest series decide.
    feature_loss : {"l1", "smooth_l1", "mse"}, default="l1"
        Distance of the feature term.
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
    window_stride : int, default=1
        Distance between the starts of consecutive training windows. 1 trains
        on every window (the paper); ``k`` trains on every ``k``-th window,
        about ``k`` times faster per epoch. Validation always uses every window.
    window_sampling : {"sliding", "recent"}, default="sliding"
        ``"sliding"``: every (``window_stride``-th) window of every member,
        each epoch (the long-term protocol). ``"recent"``: one window per
        member each epoch, cut at a point drawn uniformly from its last
        ``history_size * pred_len`` training rows, zero-padded where it
        reaches before the member's start, with targets past its end left out
        of the loss (the M4 short-term protocol).
    history_size : float, default=10.0
        With ``window_sampling="recent"``: how far back, in multiples of
        ``pred_len``, the cut points may lie (M4: 1.5 for Yearly, Quarterly
        and Monthly, 10 otherwise).
    padding : bool, default=False
        Accept panel members (and look-backs at ``predict``) shorter than a
        window by zero-padding them at the front on the scaled axis, as the
        M4 protocol does. Without it such members are refused, naming them.
    scaling : {"standard", None}, default="standard"
        ``"standard"``: each member's series are standardised with the mean
        and standard deviation of that member's training rows, and forecasts
        are returned in the original units. ``None``: the network sees raw
        values (the M4 protocol; CALF still normalises every window itself).
        Scores (:meth:`evaluate`) are on this scale.
    seasonal_period : int, default=1
        Seasonal lag ``m`` of the ``"mase"`` loss's scale.
    interval_method : {"scaled", "absolute", "adaptive"}, default="scaled"
        Conformal scores of :meth:`predict_interval`, calibrated at the end
        of ``fit`` on the validation windows: errors divided by each
        window's look-back spread (volatile windows get wider intervals), or
        plain absolute errors. ``"adaptive"`` (for rolling use) scores as
        ``"scaled"`` and, over successive windows (``evaluate``, a history
        given to ``predict_interval``), walks forward in time, learning from
        the errors observed so far (see :mod:`calf_sklearn.intervals`).
    max_epochs : int, default=20
        Upper bound on training epochs.
    patience : int, default=5
        Epochs without a better validation MSE before training stops.
    validation_size : float or int, default=0.2
        Fraction (or number) of the last rows held out for early stopping.
        0 trains for ``max_epochs`` and keeps the last weights. Ignored when
        ``fit`` is given ``X_val``.
    missing : {"raise", "mask"}, default="raise"
        What a missing value (NaN) in the data means. ``"raise"`` refuses
        it. ``"mask"`` accepts it anywhere: each look-back is standardised
        with its observed values and a missing value enters the network at
        the window's mean; training, early stopping, the intervals'
        calibration and :meth:`evaluate` count observed targets only; and
        training leaves out the windows ``min_observed`` names.
    min_observed : float, default=0.5
        With ``missing="mask"``: the smallest fraction of a training or
        validation window's look-back values that must be observed. Windows
        in which a series has no observed look-back value, or no target is
        observed, are left out too.
    target_columns : str, int or list, default=None
        The columns to forecast (names for a DataFrame, positions for an
        array); ``None``: every column. The other columns are covariates:
        CALF reads them as extra series tokens in both branches, but trains
        on, forecasts, scores and calibrates intervals for the targets only,
        and ``predict`` returns the targets only. A look-back given to
        ``predict`` must still hold every column. Covariates are known up to
        the forecast origin only; their future values are not used.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        Arithmetic of training and forecasting (:mod:`calf_sklearn.precision`).
        ``"bfloat16"`` trains with torch's autocast (float32 weights and
        optimiser state) and forecasts with bfloat16 weights, which also
        halves the saved model; fast on GPUs from Ampere on and on CPUs with
        AMX or AVX512-BF16, slower than float32 elsewhere (a warning says so).
        ``"float16"``: the same with a gradient scaler, CUDA only. PyTorch
        Lightning's names (``"bf16-mixed"``, ``"16-mixed"``, ``"32-true"``)
        are accepted. Window statistics stay float32 in every precision.
    compile : bool, default=False
        Forecast with the network compiled by ``torch.compile`` (weights frozen,
        batches padded to ``batch_size`` so that one graph serves all). The first
        forecast pays the compilation (tens of seconds on a CPU): it pays off when
        a model forecasts many windows (docs/performance.md gives the break-even).
        Never pickled; a failed compilation falls back to the plain network with
        a warning. ``set_params(compile=True)`` switches it on after fitting.
    data_parallel : {"auto", True, False}, default="auto"
        Train on every process of a ``torchrun`` launch (or of a
        ``torch.distributed`` process group the caller initialised), each
        taking its share of every batch, gradients summed between them
        (docs/scaling-out.md). ``batch_size`` stays the global batch and the
        fit is the one a single process makes, to float rounding (dropout
        aside). ``"auto"``: when launched so, alone otherwise; ``True``:
        refuse to train alone outside a launch; ``False``: alone, always.
        On CUDA each process takes ``cuda:LOCAL_RANK``.
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
    resumed_from_epoch_ : int or None
        The last epoch read from ``fit``'s ``checkpoint``, when training
        resumed from one.
    device_ : torch.device
        Where the network lives.
    n_processes_ : int
        How many processes trained the network (1 without data parallelism).
    scaler_ : sklearn.preprocessing.StandardScaler
        Per-series scaling fitted on the training rows; the network sees
        scaled data and forecasts are returned in the original units.
    last_window_ : ndarray of shape (seq_len, n_series)
        The last ``seq_len`` rows of the training data, from which
        ``predict()`` without ``X`` forecasts.
    calibration_ : ConformalCalibration or None
        Conformal scores of the validation windows, from which
        :meth:`predict_interval` and :meth:`predict_quantiles` draw; ``None``
        when ``fit`` had no validation data.

    See Also
    --------
    calf_sklearn.principal_word_embeddings : The vocabulary reduction.
    calf_sklearn.mse_scorer : Scorer for ``GridSearchCV``.
    calf_sklearn.save_forecaster : Save without pickle.

    Notes
    -----
    Pickling (``pickle``/``joblib``) stores the trained network on the CPU
    without the vocabulary matrix, the textual branch or other training-only
    parts, so a saved forecaster predicts offline on any machine. Loading a
    pickle runs code from the file: only load files you trust.
    :func:`~calf_sklearn.save_forecaster` writes a safetensors file instead,
    which :func:`~calf_sklearn.load_forecaster` reads without running any.

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
        window_stride=1,
        window_sampling="sliding",
        history_size=10.0,
        padding=False,
        scaling="standard",
        seasonal_period=1,
        interval_method="scaled",
        max_epochs=20,
        patience=5,
        validation_size=0.2,
        missing="raise",
        min_observed=0.5,
        target_columns=None,
        device="auto",
        precision="float32",
        compile=False,
        data_parallel="auto",
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
        self.window_stride = window_stride
        self.window_sampling = window_sampling
        self.history_size = history_size
        self.padding = padding
        self.scaling = scaling
        self.seasonal_period = seasonal_period
        self.interval_method = interval_method
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_size = validation_size
        self.missing = missing
        self.min_observed = min_observed
        self.target_columns = target_columns
        self.device = device
        self.precision = precision
        self.compile = compile
        self.data_parallel = data_parallel
        self.cache_dir = cache_dir
        self.random_state = random_state
        self.verbose = verbose

    _parameter_constraints: ClassVar[dict] = CALF_CONSTRAINTS

    # ------------------------------------------- parameters and the shared parts' hooks
    def _validate_params(self):
        check_calf_params(self)
        check_backbone_source(self.llm, self.pretrained)

    def _pads(self):
        return bool(self.padding)

    def _standardises(self):
        return self.scaling == "standard"

    def _samples_recent(self):
        return self.window_sampling == "recent"

    def _window_stride(self):
        return self.window_stride

    def _scoring_batch(self):
        return max(self.batch_size, 256)

    # -------------------------------------------------------------------- fit

    def fit(self, X, y=None, *, X_val=None, checkpoint=None):
        """Train on a multivariate series.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series), DataFrame or Series
            The series, oldest row first. A DataFrame's DatetimeIndex is kept
            to stamp forecasts; it must be sorted and free of repeats.
        y : None
            Ignored; present for scikit-learn compatibility.
        X_val : array-like of shape (n_val_steps, n_series), default=None
            A separate validation series for early stopping, scored on every
            window of it: its first ``seq_len`` rows serve only as look-back,
            so pass the ``seq_len`` rows before the validation period too (the
            benchmark convention). With ``X_val`` all of ``X`` trains and
            ``validation_size`` is ignored; the scaling is still fitted on ``X``.
        checkpoint : str or path-like, default=None
            File that holds the training state after every epoch. If it
            already holds a checkpoint of the same fit (same parameters and
            data), training resumes after its last epoch instead of starting
            over, and ends as the uninterrupted fit would have. The file is
            left in place; delete it when you no longer need to resume.

        Returns
        -------
        self : CALFForecaster
            The fitted forecaster. If ``fit`` raises, a forecaster fitted
            before is left exactly as it was.

        Examples
        --------
        >>> import numpy as np
        >>> t = np.arange(300)
        >>> X = np.column_stack([np.sin(t / 8), np.cos(t / 12)])
        >>> tiny = {"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}
        >>> model = CALFForecaster(pred_len=12, seq_len=36, llm=tiny, pretrained=False,
        ...                        n_layers=1, n_principal_words=8, max_epochs=1,
        ...                        random_state=0)
        >>> model.fit(X) is model
        True
        >>> model.n_features_in_, len(model.history_), model.last_window_.shape
        (2, 1, (36, 2))
        >>> # With a separate validation series (seq_len look-back rows first).
        >>> model.fit(X[:240], X_val=X[204:]).history_[0]["val_mse"] > 0
        True
        """
        return self._fit_and_set(X, X_val, checkpoint=checkpoint)

    def _fit(self, prepared, checkpoint=None):
        from .calf_training import train_calf

        trained = train_calf(self, prepared, checkpoint)
        self.module_ = trained.module
        self.__dict__.pop("_compiled_forecast", None)  # compiled for the previous network
        self.history_ = trained.result.history
        self.best_epoch_ = trained.result.best_epoch
        self.training_interrupted_ = trained.result.interrupted
        self.resumed_from_epoch_ = trained.result.resumed_from
        self.n_processes_ = trained.n_processes
        self.device_ = trained.device

    # ---------------------------------------------------------------- predict

    def _forecast_scaled(self, windows):
        from .._torch.inference import forecast_windows

        return forecast_windows(
            self.module_, windows, self.batch_size, self.device_, forward=self._compiled_forward()
        )

    def _compiled_forward(self):
        """The compiled forecast of ``module_`` when ``compile`` is on (built once), else ``None``."""
        if not checks.check_bool("compile", self.compile):
            return None
        from .._torch.compiled import CompiledForecast

        compiled = self.__dict__.get("_compiled_forecast")
        if compiled is None or compiled.network is not self.module_ or compiled.batch_size != self.batch_size:
            compiled = CompiledForecast(self.module_, self.batch_size)
            self._compiled_forecast = compiled
        return compiled

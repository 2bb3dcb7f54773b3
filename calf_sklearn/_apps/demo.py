"""The main job on an embedded default: ``python -m calf_sklearn.demo``.

The public face of this module is :mod:`calf_sklearn.demo`; its documentation is there.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .._estimators.calf import CALFForecaster
from .._series.windows import WindowedSeries
from ..datasets import make_synthetic_series

# A GPT-2 of the real vocabulary but a small width and depth, so the demo runs
# in about a minute on two CPU cores. Randomly initialised: not the paper's model.
DEMO_BACKBONE = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}


def _errors(forecast, truth):
    error = forecast - truth
    return float(np.mean(error**2)), float(np.mean(np.abs(error)))


def run(output="calf_forecast.png", max_epochs=20, random_state=0, verbose=1):
    """Fit, evaluate against the naive forecast, plot; returns the metrics.

    Parameters
    ----------
    output : str, default="calf_forecast.png"
        Where to save the plot (``None`` skips it).
    max_epochs : int, default=20
        Training epochs.
    random_state : int, default=0
        Seed.
    verbose : int, default=1
        Progress output.

    Returns
    -------
    dict
        ``calf`` and ``naive``, each a ``(mse, mae)`` pair on the held-out
        windows in standardised units, and ``seconds`` of training.
    """
    data = make_synthetic_series(n_steps=2000, n_series=4, random_state=random_state)
    split = int(len(data) * 0.8)
    train, test = data.iloc[:split], data.iloc[split:]
    model = CALFForecaster(
        pred_len=24,
        seq_len=96,
        llm=DEMO_BACKBONE,
        pretrained=False,
        n_layers=2,
        n_principal_words=48,
        batch_size=32,
        max_epochs=max_epochs,
        patience=3,
        random_state=random_state,
        verbose=verbose,
    )
    started = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - started

    # Held-out windows, one every pred_len steps, scored on the training scale
    # for both methods, so the two columns of the table are comparable.
    held_out = WindowedSeries(test.to_numpy(), model.seq_len, model.pred_len, stride=model.pred_len)
    windows, truth = held_out.batch(np.arange(len(held_out)))
    calf = model.predict(windows)
    naive = np.repeat(windows[:, -1:], model.pred_len, axis=1)
    scale = model.scaler_.scale_
    metrics = {
        "calf": _errors(calf / scale, truth / scale),
        "naive": _errors(naive / scale, truth / scale),
        "seconds": seconds,
    }
    print(
        f"\nCALF on a synthetic 4-series hourly signal; backbone: randomly initialised GPT-2 "
        f"(width {DEMO_BACKBONE['n_embd']}, {model.n_layers} blocks), trained "
        f"{len(model.history_)} epochs in {seconds:.1f} s (best epoch {model.best_epoch_}).\n"
        f"Held-out: {len(held_out)} windows of {model.pred_len} steps, standardised units.\n"
    )
    print(f"{'method':<22}{'MSE':>10}{'MAE':>10}")
    for name, key in (("CALF", "calf"), ("naive last value", "naive")):
        mse, mae = metrics[key]
        print(f"{name:<22}{mse:>10.4f}{mae:>10.4f}")
    if output:
        _plot(test.columns, windows[-1], calf[-1], truth[-1], output)
        print(f"\nPlot of the last held-out window saved to {output}")
    return metrics


def _plot(columns, window, forecast, truth, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_series = window.shape[1]
    fig, axes = plt.subplots(n_series, 1, figsize=(9, 2.2 * n_series), sharex=True)
    past = np.arange(-len(window), 0)
    future = np.arange(len(forecast))
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.plot(past, window[:, i], color="0.4", label="look-back")
        ax.plot(future, truth[:, i], color="black", label="actual")
        ax.plot(future, forecast[:, i], color="tab:red", label="CALF forecast")
        ax.set_ylabel(columns[i])
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=8, ncol=3)
    np.atleast_1d(axes)[-1].set_xlabel("steps from forecast origin (hours)")
    fig.suptitle("CALF (randomly initialised GPT-2 backbone) on synthetic data", fontsize=10)
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="calf_forecast.png", help="PNG file for the plot")
    parser.add_argument("--max-epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    run(args.output, args.max_epochs, args.seed)


if __name__ == "__main__":
    main()

"""Draw the gallery thumbnail of examples that make no figure.

    python docs/figures/default_thumbnail.py   # writes docs/_static/no_figure_thumbnail.png

Needs matplotlib only. The PNG is committed, so building the documentation
does not run this script.
"""

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "_static" / "no_figure_thumbnail.png"


def main():
    matplotlib.use("Agg")
    steps = np.arange(96)
    history = np.sin(steps / 8) + 0.3 * np.sin(steps / 2.7)
    future = np.arange(96, 120)
    fig, ax = plt.subplots(figsize=(3.2, 2.24), dpi=100)
    ax.plot(steps, history, color="#1f5fa8", lw=2)
    ax.plot(future, np.sin(future / 8) + 0.3 * np.sin(future / 2.7), color="#b85c00", lw=2, ls="--")
    ax.axvline(95.5, color="#888888", lw=1)
    ax.text(0.03, 0.92, "printed output only", transform=ax.transAxes, color="#444444", fontsize=10)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(OUT)


if __name__ == "__main__":
    main()

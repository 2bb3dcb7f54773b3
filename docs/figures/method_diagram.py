"""Draw the CALF method diagram used by docs/method.md.

    python docs/figures/method_diagram.py      # writes docs/figures/method_diagram.png

Needs matplotlib only (``pip install -e ".[plot]"``). The PNG is committed, so
building the documentation does not run this script.
"""

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OUT = Path(__file__).with_suffix(".png")

# Colours: the temporal branch (kept for forecasting) is blue; everything
# used only while training is orange or grey and drawn with dashed edges.
BLUE, BLUE_FILL = "#1f5fa8", "#dbe8f7"
ORANGE, ORANGE_FILL = "#b85c00", "#fbe6cf"
GREY, GREY_FILL = "#444444", "#eeeeee"
GREEN, GREEN_FILL = "#2d7a3a", "#e0f1e2"


def box(ax, x, y, w, h, title, body, edge, fill, dashed=False):
    """A rounded box with a bold title line and smaller body text, centred."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.012,rounding_size=0.015",
            linewidth=1.6,
            edgecolor=edge,
            facecolor=fill,
            linestyle=(0, (4, 2)) if dashed else "solid",
        )
    )
    ax.text(x + w / 2, y + h - 0.018, title, ha="center", va="top", fontsize=10.5, weight="bold", color=edge)
    ax.text(
        x + w / 2, y + h - 0.062, body, ha="center", va="top", fontsize=8.6, color="#222222", linespacing=1.35
    )


def arrow(ax, start, end, color, dashed=False, width=1.6, rad=0.0):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=13,
            linewidth=width,
            color=color,
            linestyle=(0, (4, 2)) if dashed else "solid",
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=2,
            shrinkB=2,
        )
    )


def main():
    matplotlib.use("Agg")
    fig = plt.figure(figsize=(13.7, 7.4))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 1.37)
    ax.set_ylim(0, 0.74)
    ax.axis("off")

    # 1. Input.
    box(
        ax,
        0.015,
        0.25,
        0.155,
        0.16,
        "Input window",
        "look-back of L steps\nfor M series\n(B windows per batch)",
        GREY,
        GREY_FILL,
    )
    # 2. Tokens.
    box(
        ax,
        0.205,
        0.20,
        0.19,
        0.26,
        "Per-series tokens",
        "normalise each window\n(mean / std, undone later)\n\neach series' L values\n-> one token: Linear(L, d)"
        "\n\nTransformer encoder layer\nacross the M tokens\n= time tokens  [M x d]",
        BLUE,
        BLUE_FILL,
    )
    arrow(ax, (0.172, 0.33), (0.203, 0.33), GREY)

    # 3a. Temporal branch (top).
    box(
        ax,
        0.47,
        0.43,
        0.245,
        0.20,
        "Temporal branch",
        "GPT-2, first n blocks\nfrozen weights + LoRA on c_attn\n"
        "(LayerNorms, position embedding\nand LoRA are trained)\n+ residual: output + input tokens",
        BLUE,
        BLUE_FILL,
    )
    # 3b. Textual branch (bottom).
    box(
        ax,
        0.47,
        0.035,
        0.245,
        0.245,
        "Textual branch",
        "cross-attention:\nquery = time tokens,\nkey = value = K principal words\n(PCA of GPT-2's word embeddings)\n"
        "-> text tokens  [M x d]\n\nthe same frozen GPT-2 blocks\n(only the position embedding\nis trained) + residual",
        ORANGE,
        ORANGE_FILL,
        dashed=True,
    )
    arrow(ax, (0.397, 0.40), (0.468, 0.52), BLUE, width=2.2)
    arrow(ax, (0.397, 0.26), (0.468, 0.17), ORANGE, dashed=True)

    # Feature alignment between the branches.
    ax.annotate(
        "",
        xy=(0.592, 0.428),
        xytext=(0.592, 0.284),
        arrowprops={"arrowstyle": "<|-|>", "color": GREEN, "lw": 1.6, "linestyle": (0, (4, 2))},
    )
    ax.text(
        0.60,
        0.356,
        "feature alignment\nat every layer\n(projected hidden\nstates)",
        ha="left",
        va="center",
        fontsize=8.6,
        color=GREEN,
        weight="bold",
    )

    # 4. Shared output head and forecasts.
    box(
        ax,
        0.78,
        0.455,
        0.19,
        0.14,
        "Output head",
        "Linear(d, P), shared by\nboth branches; undo the\nnormalisation",
        BLUE,
        BLUE_FILL,
    )
    box(
        ax,
        0.78,
        0.075,
        0.19,
        0.14,
        "Output head",
        "the same Linear(d, P)\napplied to the textual\nbranch's tokens",
        ORANGE,
        ORANGE_FILL,
        dashed=True,
    )
    arrow(ax, (0.717, 0.525), (0.778, 0.525), BLUE, width=2.2)
    arrow(ax, (0.717, 0.145), (0.778, 0.145), ORANGE, dashed=True)

    box(ax, 1.02, 0.475, 0.13, 0.10, "Forecast", "P steps x M series\n(temporal branch)", BLUE, BLUE_FILL)
    box(
        ax,
        1.02,
        0.095,
        0.13,
        0.10,
        "Textual forecast",
        "P steps x M series\n(training only)",
        ORANGE,
        ORANGE_FILL,
        dashed=True,
    )
    arrow(ax, (0.972, 0.525), (1.018, 0.525), BLUE, width=2.2)
    arrow(ax, (0.972, 0.145), (1.018, 0.145), ORANGE, dashed=True)

    # 5. The loss.
    box(
        ax,
        1.175,
        0.215,
        0.178,
        0.24,
        "Training loss",
        "task loss (x 1):\nforecast vs truth\n\n+ output consistency (x 1):\nforecast vs\ntextual forecast\n\n"
        "+ feature alignment (x 0.01):\nsum over layers, k-th\nbelow the top x 0.8^k",
        GREEN,
        GREEN_FILL,
        dashed=True,
    )
    arrow(ax, (1.152, 0.51), (1.22, 0.447), GREEN, dashed=True, width=1.3)
    arrow(ax, (1.152, 0.15), (1.22, 0.213), GREEN, dashed=True, width=1.3)

    # Legend-like notes.
    ax.text(
        0.015,
        0.725,
        "CALF: cross-modal fine-tuning of GPT-2 for multivariate forecasting",
        fontsize=12.5,
        weight="bold",
        va="top",
        color="#111111",
    )
    ax.text(
        0.015,
        0.69,
        "Solid blue: the path that forecasts (the only one kept after training; LoRA merged into the weights).\n"
        "Dashed orange and green: used only while training, to align the temporal branch with GPT-2's "
        "language space.",
        fontsize=9,
        va="top",
        color="#333333",
        linespacing=1.4,
    )
    ax.text(
        0.015,
        0.13,
        "B batch, L look-back, M series,\nP horizon, d GPT-2 width (768),\nn blocks kept (6), K principal\n"
        "words (500); defaults in brackets.\nLoss weights shown: the defaults.",
        fontsize=8.3,
        va="top",
        color="#555555",
        linespacing=1.35,
    )

    fig.savefig(OUT, dpi=110)
    plt.close(fig)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

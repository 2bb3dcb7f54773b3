"""Mistral: Llama's layout, with sliding-window attention over long inputs."""

from __future__ import annotations

from .family import BackboneFamily
from .llama import LAYOUT

__all__ = ["FAMILY"]

FAMILY = BackboneFamily(
    model_type="mistral",
    name="Mistral",
    models="Mistral 7B, Mistral-derived small models",
    **LAYOUT,
    differences=(
        "As Llama. The sliding attention window (4,096 tokens) never binds: CALF's sequence is "
        "the M series, far fewer."
    ),
)

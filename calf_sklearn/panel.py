"""Panels: many series, one model (pandas and NumPy only).

A panel is a collection of independent members, each one multivariate series
of its own length (time steps x the same M series). Users hold panels in one
of four containers, and every forecaster of the package accepts each of them:

* a list or tuple of members (2-D arrays, DataFrames or Series);
* a dict ``{id: member}``;
* a DataFrame with a two-level ``(id, time)`` MultiIndex (sktime's
  "pd-multiindex" layout).

:func:`split_panel` takes a container apart into its members and a
:class:`PanelLayout` that remembers how it was built; :func:`join_panel`
puts one output per member back into the same kind of container, so that
``predict(panel)`` returns what it was given. Nothing here knows about
windows, scaling or torch.
"""

from ._series.panel import PanelLayout, is_panel, join_panel, split_panel

__all__ = ["PanelLayout", "is_panel", "join_panel", "split_panel"]

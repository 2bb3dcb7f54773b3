"""Panels: many series, one model (pandas and NumPy only).

The public face of this module is :mod:`calf_sklearn.panel`; its documentation is there.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

__all__ = ["PanelLayout", "is_panel", "join_panel", "split_panel"]

_MEMBER_TYPES = (np.ndarray, pd.DataFrame, pd.Series)


@dataclasses.dataclass(frozen=True)
class PanelLayout:
    """How a panel's members were held, so that outputs can be held the same way.

    Parameters
    ----------
    kind : {"list", "tuple", "dict", "multiindex"}
        The container.
    ids : tuple
        The members' ids, in order: positions for a list or tuple, the keys of
        a dict, the values of the first index level of a MultiIndex frame.
    names : tuple, default=(None, None)
        A MultiIndex frame's index level names ``(id, time)``.

    Examples
    --------
    >>> layout = PanelLayout("dict", ("a", "b"))
    >>> layout.n_members, layout.describe(1)
    (2, "member 'b'")
    """

    kind: str
    ids: tuple
    names: tuple = (None, None)

    @property
    def n_members(self):
        """Number of members.

        Examples
        --------
        >>> PanelLayout("list", (0, 1, 2)).n_members
        3
        """
        return len(self.ids)

    def describe(self, position):
        """How error messages name the member at ``position``.

        Parameters
        ----------
        position : int
            The member's position in the panel.

        Returns
        -------
        str
            ``"member 3"`` for a list or tuple, ``"member 'id'"`` otherwise.

        Examples
        --------
        >>> PanelLayout("list", (0, 1)).describe(1), PanelLayout("multiindex", ("H7",)).describe(0)
        ('member 1', "member 'H7'")
        """
        if self.kind in ("list", "tuple"):
            return f"member {position}"
        return f"member {self.ids[position]!r}"


def is_panel(X):
    """Whether ``X`` is one of the panel containers (see the module's description).

    A list or tuple is a panel when its items are arrays, DataFrames or
    Series; nested lists of numbers stay one array, as scikit-learn reads them.

    Parameters
    ----------
    X : object
        Anything a forecaster was given.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> is_panel([np.ones((5, 2)), np.ones((7, 2))]), is_panel({"a": np.ones(5)})
    (True, True)
    >>> is_panel(np.ones((5, 2))), is_panel([[1.0, 2.0], [3.0, 4.0]])
    (False, False)
    >>> index = pd.MultiIndex.from_product([["a", "b"], range(3)])
    >>> is_panel(pd.DataFrame({"y": range(6)}, index=index))
    True
    """
    if isinstance(X, dict):
        return True
    if isinstance(X, pd.DataFrame):
        return isinstance(X.index, pd.MultiIndex)
    if isinstance(X, (list, tuple)) and len(X) > 0:
        return all(isinstance(item, _MEMBER_TYPES) for item in X)
    return False


def _multiindex_members(frame, name):
    if frame.index.nlevels != 2:
        raise ValueError(
            f"{name} has a MultiIndex of {frame.index.nlevels} levels; a panel frame needs exactly two, "
            "(id, time), as sktime's pd-multiindex layout. Drop or join the extra levels first."
        )
    if len(frame) == 0:
        raise ValueError(
            f"{name} is an empty panel (a MultiIndex frame without rows); pass at least one member."
        )
    codes = np.asarray(frame.index.codes[0])
    # Members are the runs of equal ids, in the order they appear; an id whose
    # rows are split into several runs would otherwise be cut into pieces.
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    run_codes = codes[starts]
    repeated = run_codes[pd.Series(run_codes).duplicated().to_numpy()]
    if len(repeated):
        first = frame.index.levels[0][repeated[0]]
        raise ValueError(
            f"{name}'s rows of id {first!r} are not contiguous; sort the frame by id first "
            f"({name}.sort_index(level=0, sort_remaining=False) keeps each member's time order)."
        )
    stops = np.r_[starts[1:], len(frame)]
    ids = tuple(frame.index.levels[0][codes[start]] for start in starts)
    members = [frame.iloc[start:stop].droplevel(0) for start, stop in zip(starts, stops)]
    return ids, members


def split_panel(X, name="X"):
    """Take a panel container apart into its members.

    Parameters
    ----------
    X : list, tuple, dict or DataFrame with a two-level MultiIndex
        The panel.
    name : str, default="X"
        The argument's name, for error messages.

    Returns
    -------
    layout : PanelLayout
        The container and the members' ids.
    members : list
        Each member as given (arrays, DataFrames or Series); a MultiIndex
        frame's members are DataFrames indexed by its time level.

    Raises
    ------
    ValueError
        If the panel is empty, a MultiIndex has other than two levels or an
        id's rows are not contiguous.
    TypeError
        If a member is not an array, DataFrame or Series (naming it).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> layout, members = split_panel({"a": np.ones((4, 1)), "b": np.zeros((6, 1))})
    >>> layout.kind, layout.ids, [len(m) for m in members]
    ('dict', ('a', 'b'), [4, 6])
    >>> index = pd.MultiIndex.from_tuples([("x", 0), ("x", 1), ("y", 0)], names=["id", "t"])
    >>> layout, members = split_panel(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=index))
    >>> layout.ids, layout.names, members[0].index.tolist()
    (('x', 'y'), ('id', 't'), [0, 1])
    """
    if isinstance(X, pd.DataFrame):
        ids, members = _multiindex_members(X, name)
        return PanelLayout("multiindex", ids, tuple(X.index.names)), members
    if isinstance(X, dict):
        ids, members = tuple(X), list(X.values())
        kind = "dict"
    else:
        ids, members = tuple(range(len(X))), list(X)
        kind = "tuple" if isinstance(X, tuple) else "list"
    layout = PanelLayout(kind, ids)
    if not members:
        raise ValueError(f"{name} is an empty panel; pass at least one member.")
    for position, member in enumerate(members):
        if not isinstance(member, _MEMBER_TYPES) and not isinstance(member, (list, tuple)):
            raise TypeError(
                f"{name}'s {layout.describe(position)} is a {type(member).__name__}; panel members must "
                "be 2-D arrays, DataFrames or Series (time steps x series)."
            )
    return layout, members


def join_panel(layout, outputs):
    """Hold one output per member the way the panel was held.

    Parameters
    ----------
    layout : PanelLayout
        From :func:`split_panel`.
    outputs : list
        One output per member, in order (arrays, DataFrames or Series; for
        a MultiIndex panel, DataFrames indexed by time).

    Returns
    -------
    list, tuple, dict or DataFrame
        A list, a tuple, a dict with the same keys, or one DataFrame with the
        ``(id, time)`` MultiIndex and the same level names.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> join_panel(PanelLayout("dict", ("a", "b")), [1, 2])
    {'a': 1, 'b': 2}
    >>> frames = [pd.DataFrame({"v": [1.0]}, index=[5]), pd.DataFrame({"v": [2.0]}, index=[9])]
    >>> joined = join_panel(PanelLayout("multiindex", ("x", "y"), ("id", "t")), frames)
    >>> joined.index.tolist(), joined.index.names
    ([('x', 5), ('y', 9)], FrozenList(['id', 't']))
    """
    if layout.kind == "dict":
        return dict(zip(layout.ids, outputs))
    if layout.kind == "tuple":
        return tuple(outputs)
    if layout.kind == "list":
        return list(outputs)
    frames = [output.to_frame() if isinstance(output, pd.Series) else output for output in outputs]
    return pd.concat(frames, keys=list(layout.ids), names=list(layout.names))

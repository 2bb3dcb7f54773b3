"""Checks of parameters, with messages that suggest a fix.

No torch at import: the NumPy-only modules (seasonal, metrics, datasets)
check their arguments with these too.
"""

from __future__ import annotations

import difflib
import math
import numbers


def suggest(value, choices):
    """' Did you mean ...?' for the closest of ``choices``, or ''."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_choice(name, value, choices, aliases=None):
    """``value`` if it is one of ``choices``; else a ValueError naming the closest (or its alias' target)."""
    if value not in choices:
        hint = (aliases or {}).get(str(value).lower())
        hint = f" Did you mean {hint!r}?" if hint in choices else suggest(value, choices)
        raise ValueError(f"{name}={value!r} is not one of {sorted(choices)}.{hint}")
    return value


def check_keywords(owner, given, known):
    """Refuse a keyword that is not a parameter, naming the closest one (Python's error names none)."""
    for key in given:
        if key not in known:
            raise TypeError(
                f"{owner} got an unexpected keyword argument {key!r}."
                f"{suggest(key, known)} Valid parameters: {sorted(known)}."
            )


def check_int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}.")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}.")
    return int(value)


def check_real(name, value, low=0.0, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    too_low = value <= low if low_open else value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high or value in (float("inf"), float("-inf")):
        left = "(" if low_open else "["
        right = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ValueError(f"{name} must be finite and in {left}{low}, {right}, got {value}.")
    return float(value)


def check_validation_size(value):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return check_int("validation_size", value, 0)
    if value is None:
        return 0
    return check_real("validation_size", value, 0.0, 1.0, high_open=True)


def check_bool(name, value):
    if not isinstance(value, (bool, numbers.Integral)) or value not in (0, 1):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)

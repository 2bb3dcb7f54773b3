"""Helpers that know nothing of forecasting and import nothing of the package.

``checks`` (parameter checks whose messages suggest a fix), ``atomic`` (files written whole
or not at all), ``memory`` (peak resident memory of a block) and ``hardware`` (the CPU's
model and speed-relevant flags).
"""

"""What the CPU is: its model name and the instruction sets that decide float32 and bfloat16 speed."""

from __future__ import annotations

import functools
import platform

# The instruction sets that decide float32 and bfloat16 speed.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


@functools.cache
def cpu_info():
    """The CPU's model name (or None) and its flags, from ``/proc/cpuinfo`` (Linux; elsewhere neither)."""
    model, flags = None, frozenset()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = frozenset(value.split())
                if model is not None and flags:
                    break
    except OSError:
        pass
    return model, flags


def cpu_description():
    """The CPU's model name and its speed-relevant flags (Linux), else what platform knows."""
    name, known = cpu_info()
    name = name or f"{platform.processor() or platform.machine()} CPU"
    if not known:  # no /proc/cpuinfo: say nothing rather than something wrong
        return name
    flags = [flag for flag in SPEED_FLAGS if flag in known]
    return f"{name} ({' '.join(flags) or 'none of ' + ', '.join(SPEED_FLAGS)})"

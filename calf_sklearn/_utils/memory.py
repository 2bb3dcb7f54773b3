"""Peak memory of a block of code: CUDA allocations, or the process's resident set on a CPU."""

from __future__ import annotations

import os
import sys
import threading


def _rss_bytes():
    """Current resident set size from /proc (Linux), or None where it is not available."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class PeakMemory:
    """Measure the peak memory used while the ``with`` block runs.

    On a CUDA device: the peak of memory allocated by torch on that device.
    On the CPU: the peak resident set size of the whole process, sampled
    every ``interval`` seconds from ``/proc`` by a background thread (Linux);
    elsewhere the process's lifetime peak (``ru_maxrss``), which can include
    earlier work.

    Parameters
    ----------
    device : torch.device or str, default="cpu"
        Device whose memory to watch.
    interval : float, default=0.005
        Sampling period on the CPU, in seconds.

    Attributes
    ----------
    peak_bytes : int
        The peak, once the block has ended.
    kind : str
        What was measured: ``"cuda allocated"``, ``"process RSS"`` or
        ``"process max RSS"``.

    Examples
    --------
    >>> with PeakMemory() as memory:
    ...     block = bytearray(50 * 2**20)
    >>> memory.peak_bytes > 50 * 2**20
    True
    """

    def __init__(self, device="cpu", interval=0.005):
        self.device = str(device)
        self.interval = interval
        self.peak_bytes = 0
        self.kind = None
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, _rss_bytes() or 0)
            self._stop.wait(self.interval)

    def __enter__(self):
        if self.device.startswith("cuda"):
            import torch

            self.kind = "cuda allocated"
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif _rss_bytes() is not None:
            self.kind = "process RSS"
            self.peak_bytes = _rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        else:
            self.kind = "process max RSS"
        return self

    def __exit__(self, *exc):
        if self.kind == "cuda allocated":
            import torch

            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, _rss_bytes() or 0)
        else:
            try:
                import resource
            except ImportError:  # Windows: no figure rather than a wrong one
                self.kind, self.peak_bytes = "unavailable", 0
                return False
            # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
            scale = 1 if sys.platform == "darwin" else 1024
            self.peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
        return False

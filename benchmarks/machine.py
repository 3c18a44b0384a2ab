"""The machine a benchmark ran on, and how the benchmarks measure: wall time, CPU taken by other programs,
peak memory (this process, its decoding workers, the GPU), percentiles. Timings compare only within one
machine and one run, so each benchmark prints the CPU it ran on (`cpu_name`; `machine_line` and `load_line`
add torch's threads and the load).
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows of it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine_line(device) -> str:
    """CPU, cores, torch and its threads, Python and the torch `device` (a GPU's name with it)."""
    import torch

    text = (f"CPU: {cpu_name()}, {cores()} cores; torch {torch.__version__} ({torch.get_num_threads()} intra-op "
            f"threads); Python {platform.python_version()}; device: {device}")
    if device.type == "cuda":
        text += f" ({torch.cuda.get_device_name(device)}, autocast float16)"
    return text


def load_line() -> str:
    try:
        one, five, _ = os.getloadavg()
        return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"
    except OSError:
        return "load average unknown"


def sync(device) -> None:
    """Wait for the GPU's queued work, so a timer stops after it (nothing to wait for on a CPU)."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0 to 1) of `values`, interpolated linearly."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def busy_seconds() -> float | None:
    """CPU seconds all programs on this machine have used since boot (Linux), or None."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float | None:
    """CPU seconds used by this process and everything it started (Milvus Lite, workers), or None."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            pass
    return total


def milvus_pids() -> set[int]:
    """Milvus Lite's server processes (children of this one), left out of the worker memory."""
    try:
        import psutil
    except ImportError:
        return set()
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "milvus" in " ".join(child.cmdline()).lower() or "milvus" in child.name().lower():
                pids.add(child.pid)
        except psutil.Error:
            pass
    return pids


class PeakMemory:
    """Peak RSS of this process (VmHWM, reset on entry where Linux allows), of its decoding worker
    processes (sampled every 20 ms, with `workers`: the sampling takes CPU time and the GIL, so only where
    such workers can exist), and peak GPU memory allocated by torch; also how much CPU other programs took
    meanwhile (`foreign`, as a share of all cores), which says how far to trust the timing."""

    def __init__(self, device, exclude_pids: set[int], workers: bool = False) -> None:
        self.device, self.exclude, self.workers = device, exclude_pids, workers
        self.main_mb = self.gpu_mb = self.foreign = float("nan")
        self.workers_mb = 0.0
        self._stop = threading.Event()

    @staticmethod
    def _hwm_mb() -> float:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # lifetime peak: KiB on Linux, bytes on macOS
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024

    def _sample(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        peak = 0
        while not self._stop.wait(0.02):
            total = 0
            try:
                for child in me.children(recursive=True):
                    if child.pid in self.exclude:
                        continue
                    try:
                        total += child.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                continue
            peak = max(peak, total)
        self.workers_mb = peak / 2**20

    def __enter__(self) -> "PeakMemory":
        import torch

        try:  # "5" resets the peak RSS (VmHWM) to the current RSS
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._thread = threading.Thread(target=self._sample, daemon=True) if self.workers else None
        if self._thread:
            self._thread.start()
        self._start = (time.perf_counter(), busy_seconds(), own_seconds())
        return self

    def __exit__(self, *exc) -> None:
        import torch

        end = (time.perf_counter(), busy_seconds(), own_seconds())
        self._stop.set()
        if self._thread:
            self._thread.join()
        if None not in self._start and None not in end:
            foreign = (end[1] - self._start[1]) - (end[2] - self._start[2])
            self.foreign = max(0.0, foreign) / ((end[0] - self._start[0]) * cores())
        self.main_mb = self._hwm_mb()
        if self.device.type == "cuda":
            self.gpu_mb = torch.cuda.max_memory_allocated(self.device) / 2**20

"""Facts about this machine for the sidebar, found without importing TensorFlow."""
from __future__ import annotations

import shutil
import subprocess


def gpu_summary() -> str:
    """'NVIDIA H100 ...' when a GPU is visible to the driver, else 'none (training runs on the CPU)'."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        if out:
            return "; ".join(line.split(" (UUID")[0] for line in out.splitlines())
    return "none (training runs on the CPU)"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags ("avx2", "amx_bf16", ...) from Linux's /proc/cpuinfo; empty elsewhere."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def cpu_computes_bfloat16() -> bool:
    """The CPU has AMX's bfloat16 unit (Intel Xeon from Sapphire Rapids on): there bfloat16 trains faster."""
    return "amx_bf16" in cpu_flags()


def lower_priority(nice: int) -> None:
    """Make this process at least `nice` nice (it never raises its own priority, which needs root)."""
    import os
    os.nice(max(0, nice - os.nice(0)))


def limit_threads(threads: int) -> None:
    """Give this process's training `threads` cores: TensorFlow's op pools and scikit-learn's joblib workers.

    Call before TensorFlow runs its first op (a worker does, first thing)."""
    import os
    os.environ["LOKY_MAX_CPU_COUNT"] = str(threads)  # joblib's n_jobs=-1 counts this many cores
    from fmnist import quiet_tf
    quiet_tf.import_tensorflow()  # its start-up notices stay out of the worker's log
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:  # TensorFlow already started (a foreground run in a busy process): keep its pools
        pass

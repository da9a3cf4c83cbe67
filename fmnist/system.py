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

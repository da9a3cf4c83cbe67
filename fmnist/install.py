"""`python -m fmnist setup`: the system pieces pip cannot install (the dataset, a browser for tests).

Uses Debian's packages where apt-get exists; elsewhere it says what happens instead."""
from __future__ import annotations

import os
import shutil
import subprocess

from fmnist import data
from fmnist.settings import Settings

CHROMIUM = "/usr/bin/chromium"


def _apt_install(packages: list[str]) -> tuple[bool, str]:
    apt = shutil.which("apt-get")
    if not apt:
        return False, "apt-get is not available"
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        return False, "apt-get needs root and sudo is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "update", "-q"], [apt, "install", "-y", "-q", *packages]):
        done = subprocess.run(prefix + cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            return False, f"`{' '.join(cmd[:2])}` failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}"
    return True, ""


def ensure_dataset(settings: Settings) -> str:
    try:
        found = data.find_files(settings)
    except data.DatasetError as exc:
        return f"dataset: {exc}"
    if found or data.cache_path(settings).exists():
        return f"dataset: found in {found['train_images'].parent if found else data.cache_path(settings)}"
    ok, why = _apt_install(["dataset-fashion-mnist"])
    if ok:
        return f"dataset: installed Debian's dataset-fashion-mnist into {data.DEBIAN_DIR}"
    return f"dataset: not installed ({why}); the first load downloads it through Keras instead"


def ensure_browser() -> str:
    if os.path.exists(CHROMIUM):
        return f"browser: {CHROMIUM} found"
    ok, why = _apt_install(["chromium"])
    if ok:
        return f"browser: installed Debian's chromium at {CHROMIUM}"
    return f"browser: not installed ({why}); the browser tests will be skipped"

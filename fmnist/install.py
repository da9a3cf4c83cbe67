"""`python -m fmnist setup`: the system pieces pip cannot install (the dataset; for tests a browser and PostgreSQL).

Uses Debian's packages where apt-get exists; elsewhere it says what happens instead."""
from __future__ import annotations

import glob
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


def postgres_bin() -> str | None:
    """Debian's PostgreSQL server programs (initdb, pg_ctl) live in /usr/lib/postgresql/VERSION/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) for x in p.split("/")[4].split(".") if x.isdigit()])  # 9.6 < 15
    return os.path.dirname(found[-1]) if found else None


def ensure_postgres() -> str:
    """The store tests on PostgreSQL start their own server from these programs; nothing is left running."""
    if postgres_bin():
        return f"postgresql: server programs found in {postgres_bin()}"
    ok, why = _apt_install(["postgresql"])
    if ok and postgres_bin():
        return f"postgresql: installed Debian's postgresql ({postgres_bin()})"
    return (f"postgresql: not installed ({why or 'no server programs after the install'}); "
            "the PostgreSQL tests will be skipped")

"""Real servers for the tests: a PostgreSQL started from Debian's binaries, a local Ray head, the app itself.

PostgreSQL and the Ray head come from fmnist/local_servers.py (the benchmarks start them too): a temporary
folder, free ports, stopped by what identifies them, never by a name pattern. Where a program is missing
the tests that need it skip, saying what to install; in CI (CI=true) they fail instead, so that a green CI
run means they ran."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fmnist import local_servers
from fmnist.local_servers import Postgres, RayHead, Unavailable, answers, free_port, wait_until  # noqa: F401
from fmnist.store import Store

REPO = Path(__file__).resolve().parents[1]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str):
    """Skip, or in CI fail: there these tests must run."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: these tests must run there, not skip)", pytrace=False)
    pytest.skip(reason)


def start_postgres() -> Postgres:
    """A PostgreSQL of the tests' own, with a database `fmnist`; skips (or fails in CI) where there is none."""
    try:
        return local_servers.start_postgres()
    except Unavailable as exc:
        unavailable(str(exc))


def start_ray_head(num_cpus: int = 2) -> RayHead:
    """A local Ray head of the tests' own; skips (or fails in CI) where Ray is not installed."""
    try:
        return local_servers.start_ray_head(num_cpus)
    except Unavailable as exc:
        unavailable(str(exc))


# --------------------------------------------------------------------------- the app under `streamlit run`

@contextmanager
def streamlit_app(home: Path, log: Path, **env: str) -> Iterator[str]:
    """The app on a free port with FMNIST_HOME=home (and `env`), its output in `log`; yields its URL once healthy,
    and stops the server it started after."""
    port = free_port()
    env = {**os.environ, "FMNIST_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until("streamlit", lambda: answers(url + "/_stcore/health"), 90, proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


# --------------------------------------------------------------------------- fixtures (imported by conftest.py)

@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL for the session; tests take a database of their own from `postgres_url`."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server, request):
    """The URL of a fresh, empty database (postgresql+psycopg://postgres@127.0.0.1:PORT/NAME)."""
    postgres_url.count = getattr(postgres_url, "count", 0) + 1
    return postgres_server.create_database(f"fmnist_t{os.getpid()}_{postgres_url.count}")


@pytest.fixture(scope="session")
def ray_head():
    """One local Ray head (2 CPUs) for the session: `ray start --head --block` on free ports."""
    head = start_ray_head()
    yield head
    head.stop()


@pytest.fixture(name="store", params=["sqlite", "postgresql"])
def store_on_both(request, workspace):
    """`store` on a fresh SQLite file and on a fresh database of a real PostgreSQL; a test module that imports
    this runs each of its store tests on both."""
    where = request.getfixturevalue("postgres_url") if request.param == "postgresql" else workspace.db_path
    st = Store(where)
    yield st
    st.close()

"""Shared fixtures: a throw-away workspace, a fresh run store, a run factory, the real notebook split and its cache."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from fmnist import data, presets, settings, store as store_mod  # noqa: E402
from tests.servers import postgres_server, postgres_url, ray_head  # noqa: E402,F401 - real servers, started on first use


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test():
    """Page tests start the app's supervisor thread, which starts real workers: none may outlive the test."""
    yield
    from fmnist import supervisor
    from fmnist.executors import local
    supervisor.stop_threads()
    local.kill_children()


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """Settings for an empty workspace under tmp_path/home, its folders created.

    FMNIST_DATA_DIR is cleared so a developer's own setting cannot leak into the tests."""
    monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    ws = settings.load()
    ws.ensure_dirs()
    return ws


@pytest.fixture
def store(workspace):
    """A fresh SQLite run store in the workspace (one file per test)."""
    st = store_mod.Store(workspace.db_path)
    yield st
    st.close()


@pytest.fixture
def run_factory(store):
    """Create runs from a preset's config with overrides, MLflow-style.

    make(preset="mlp1", status="queued", dedup_key=None, **config_overrides) -> store.Run
    """
    def make(preset: str = "mlp1", status: str = "queued", dedup_key: str | None = None, **overrides):
        config = presets.config_for(preset, **overrides)
        run_id = store.create_run(config, status=status, dedup_key=dedup_key)
        return store.get(run_id)

    return make


@pytest.fixture(scope="session")
def split_workspace(tmp_path_factory):
    """Settings for a session workspace (its own FMNIST_HOME, never ~/.fmnist) whose cache holds the split."""
    home = tmp_path_factory.mktemp("fmnist-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FMNIST_HOME", str(home))
        ws = settings.load()
    ws.ensure_dirs()
    try:
        found = data.find_files(ws)
    except data.DatasetError as exc:
        pytest.skip(f"Fashion-MNIST not usable: {exc}")
    if not found:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist); "
                    "the tests never download it")
    return ws


@pytest.fixture(scope="session")
def split(split_workspace):
    """The notebook's real 42,000 / 18,000 / 10,000 split, loaded through fmnist.data.load_split (built once)."""
    return data.load_split(split_workspace)


@pytest.fixture(scope="session")
def dataset_cache(split_workspace):
    """The split's cache file, built once; a test copies it into its own workspace
    (a worker then loads it in ~0.1 s)."""
    data.load_split(split_workspace)
    return data.cache_path(split_workspace)


@pytest.fixture
def cached_lab(workspace, dataset_cache):
    """(store, settings) of a workspace that already holds the split's cache: a run loads its data in ~0.1 s."""
    import shutil
    shutil.copy(dataset_cache, workspace.cache_dir / dataset_cache.name)
    st = store_mod.Store.open(workspace)
    yield st, workspace
    st.close()

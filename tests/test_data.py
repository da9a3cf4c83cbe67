"""fmnist.data: IDX parsing, the search for the files, the atomic cache and the notebook's split."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from fmnist import data, settings
from fmnist.data import DatasetError

FIX = "apt-get install dataset-fashion-mnist"


# -- helpers: IDX files written by the tests themselves ------------------------------------------

def idx_images(images: np.ndarray, magic: int = 2051, count: int | None = None,
               rows: int | None = None, cols: int | None = None) -> bytes:
    n, r, c = images.shape
    header = b"".join(int(v).to_bytes(4, "big") for v in
                      (magic, n if count is None else count, r if rows is None else rows, c if cols is None else cols))
    return header + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 2049, count: int | None = None) -> bytes:
    header = int(magic).to_bytes(4, "big") + int(len(labels) if count is None else count).to_bytes(4, "big")
    return header + labels.astype(np.uint8).tobytes()


def write(path: Path, raw: bytes) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)
    return path


def sample(n: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


def write_dataset(folder: Path, n_train: int = 10, n_test: int = 4, gz: bool = False) -> dict:
    """Four valid little IDX files; returns the arrays written."""
    folder.mkdir(parents=True, exist_ok=True)
    x, y = sample(n_train, 1)
    xt, yt = sample(n_test, 2)
    ext = ".gz" if gz else ""
    write(folder / f"train-images-idx3-ubyte{ext}", idx_images(x))
    write(folder / f"train-labels-idx1-ubyte{ext}", idx_labels(y))
    write(folder / f"t10k-images-idx3-ubyte{ext}", idx_images(xt))
    write(folder / f"t10k-labels-idx1-ubyte{ext}", idx_labels(yt))
    return dict(x=x, y=y, xt=xt, yt=yt)


def assert_helpful(exc: DatasetError, path: Path) -> None:
    text = str(exc)
    assert str(path) in text, text
    assert FIX in text, text


# -- parsing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", ["", ".gz"])
def test_valid_files_parse_to_the_same_arrays(tmp_path, ext):
    x, y = sample(3)
    img = write(tmp_path / f"imgs{ext}", idx_images(x))
    lab = write(tmp_path / f"labs{ext}", idx_labels(y))
    got_x, got_y = data.parse_idx(img, "images"), data.parse_idx(lab, "labels")
    assert got_x.shape == (3, 28, 28) and got_x.dtype == np.uint8
    assert got_y.shape == (3,) and got_y.dtype == np.uint8
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


def _bad_images(x):
    good = idx_images(x)
    return {
        "wrong magic": (idx_images(x, magic=2049), "magic number 2049"),
        "truncated header": (good[:10], "truncated"),
        "truncated pixels": (good[:-5], "truncated or padded"),
        "padded": (good + b"\x00\x00", "truncated or padded"),
        "count too large": (idx_images(x, count=4), "truncated or padded"),
        "wrong rows": (idx_images(x, rows=27), "27x28"),
        "wrong cols": (idx_images(x, cols=32), "28x32"),
    }


@pytest.mark.parametrize("ext", ["", ".gz"])
@pytest.mark.parametrize("case", list(_bad_images(sample(3)[0])))
def test_bad_image_files_raise_naming_the_file_and_the_fix(tmp_path, ext, case):
    x, _ = sample(3)
    raw, words = _bad_images(x)[case]
    path = write(tmp_path / f"train-images-idx3-ubyte{ext}", raw)
    with pytest.raises(DatasetError) as info:
        data.parse_idx(path, "images")
    assert_helpful(info.value, path)
    assert words in str(info.value)


@pytest.mark.parametrize("ext", ["", ".gz"])
@pytest.mark.parametrize("case", ["wrong magic", "truncated", "padded", "label 10"])
def test_bad_label_files_raise_naming_the_file_and_the_fix(tmp_path, ext, case):
    y = np.array([1, 2, 3], dtype=np.uint8)
    raw, words = {
        "wrong magic": (idx_labels(y, magic=2051), "magic number 2051"),
        "truncated": (idx_labels(y)[:-1], "truncated or padded"),
        "padded": (idx_labels(y) + b"\x01", "truncated or padded"),
        "label 10": (idx_labels(np.array([1, 10, 3])), "label 10"),
    }[case]
    path = write(tmp_path / f"train-labels-idx1-ubyte{ext}", raw)
    with pytest.raises(DatasetError) as info:
        data.parse_idx(path, "labels")
    assert_helpful(info.value, path)
    assert words in str(info.value)


def test_a_gz_file_that_is_not_gzip_raises_naming_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(idx_images(sample(3)[0]))  # plain bytes under a .gz name
    with pytest.raises(DatasetError) as info:
        data.parse_idx(path, "images")
    assert_helpful(info.value, path)


def test_a_gz_file_cut_short_raises_naming_the_file(tmp_path):
    whole = gzip.compress(idx_images(sample(3)[0]), mtime=0)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DatasetError, match="cannot be read") as info:
        data.parse_idx(path, "images")
    assert_helpful(info.value, path)


def test_a_gz_file_with_damaged_compressed_data_raises_dataset_error(tmp_path):
    whole = bytearray(gzip.compress(idx_images(np.zeros((3, 28, 28), np.uint8)), mtime=0))
    whole[12:16] = b"\xff" * 4  # just after the 10-byte gzip header: the deflate block header
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(bytes(whole))
    with pytest.raises(DatasetError) as info:
        data.parse_idx(path, "images")
    assert_helpful(info.value, path)


def test_image_label_count_mismatch_names_both_files(tmp_path):
    folder = tmp_path / "d"
    write_dataset(folder)
    x, y = sample(3)
    write(folder / "train-labels-idx1-ubyte", idx_labels(y[:2]))
    files = {k: folder / v for k, v in data.FILES.items()}
    with pytest.raises(DatasetError) as info:
        data.read_files(files)
    text = str(info.value)
    assert str(files["train_images"]) in text and str(files["train_labels"]) in text
    assert "10 images but" in text and "2 labels" in text
    assert FIX in text


# -- where the files are found ------------------------------------------------------------------

def test_data_dir_missing_files_raises_naming_them(tmp_path, workspace, monkeypatch):
    folder = tmp_path / "partial"
    folder.mkdir()
    x, _ = sample(3)
    write(folder / "train-images-idx3-ubyte.gz", idx_images(x))
    monkeypatch.setenv("FMNIST_DATA_DIR", str(folder))
    ws = settings.load()
    with pytest.raises(DatasetError) as info:
        data.find_files(ws)
    text = str(info.value)
    assert f"FMNIST_DATA_DIR={folder}" in text
    for stem in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert stem in text
    assert "train-images-idx3-ubyte" not in text  # it is there, so it is not named as missing
    assert FIX in text
    # load_split does not fall back to the Debian copy either, and writes no cache
    with pytest.raises(DatasetError, match="lacks"):
        data.load_split(ws)
    assert list(ws.cache_dir.iterdir()) == []


@pytest.mark.parametrize("gz", [False, True])
def test_data_dir_is_searched_first_and_its_split_is_used(tmp_path, monkeypatch, workspace, gz):
    folder = tmp_path / "mine"
    arrays = write_dataset(folder, gz=gz)
    monkeypatch.setenv("FMNIST_DATA_DIR", str(folder))
    ws = settings.load()
    assert data.candidate_dirs(ws)[0] == folder
    assert data.candidate_dirs(ws)[1:] == [data.DEBIAN_DIR, data.KERAS_DIR]
    found = data.find_files(ws)
    ext = ".gz" if gz else ""
    assert found == {k: folder / (v + ext) for k, v in data.FILES.items()}

    split = data.load_split(ws)
    x_tr, x_va, y_tr, y_va = train_test_split(arrays["x"], arrays["y"], test_size=0.3,
                                              random_state=np.random.RandomState(20240329))
    np.testing.assert_array_equal(split.x_train, x_tr)
    np.testing.assert_array_equal(split.y_train, y_tr)
    np.testing.assert_array_equal(split.x_val, x_va)
    np.testing.assert_array_equal(split.y_val, y_va)
    np.testing.assert_array_equal(split.x_test, arrays["xt"])
    np.testing.assert_array_equal(split.y_test, arrays["yt"])


def test_plain_file_is_preferred_over_gz(tmp_path):
    (tmp_path / "a").write_bytes(b"")
    (tmp_path / "a.gz").write_bytes(b"")
    (tmp_path / "b.gz").write_bytes(b"")
    assert data._find_file(tmp_path, "a") == tmp_path / "a"
    assert data._find_file(tmp_path, "b") == tmp_path / "b.gz"
    assert data._find_file(tmp_path, "c") is None


def test_without_data_dir_the_debian_copy_is_found(workspace):
    if not all((data.DEBIAN_DIR / (stem + ".gz")).is_file() for stem in data.FILES.values()):
        pytest.skip("the Debian dataset-fashion-mnist package is not installed")
    found = data.find_files(workspace)
    assert found == {k: data.DEBIAN_DIR / (v + ".gz") for k, v in data.FILES.items()}


# -- the cache ----------------------------------------------------------------------------------

def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def test_cache_is_written_atomically(tmp_path, monkeypatch, workspace):
    folder = tmp_path / "mine"
    write_dataset(folder)
    monkeypatch.setenv("FMNIST_DATA_DIR", str(folder))
    ws = settings.load()
    data.load_split(ws)
    assert sorted(p.name for p in ws.cache_dir.iterdir()) == [data.CACHE_NAME]


def test_no_cache_and_no_temp_file_when_building_fails(monkeypatch, workspace):
    def broken(_settings):
        raise DatasetError("simulated build failure")

    monkeypatch.setattr(data, "_build", broken)
    with pytest.raises(DatasetError, match="simulated"):
        data.load_split(workspace)
    assert list(workspace.cache_dir.iterdir()) == []


def test_no_cache_and_no_temp_file_when_writing_fails_half_way(tmp_path, monkeypatch, workspace):
    folder = tmp_path / "mine"
    write_dataset(folder)
    monkeypatch.setenv("FMNIST_DATA_DIR", str(folder))
    ws = settings.load()
    seen = []

    def half_written(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip")
        seen.extend(p.name for p in ws.cache_dir.iterdir())
        raise OSError("disk full (simulated)")

    with monkeypatch.context() as mp:
        mp.setattr(data.np, "savez", half_written)
        with pytest.raises(OSError, match="disk full"):
            data.load_split(ws)
    assert len(seen) == 1 and seen[0].startswith(".tmp-")  # it did write to a temporary file
    assert list(ws.cache_dir.iterdir()) == []
    assert len(data.load_split(ws).y_train) == 7  # and the next load builds it cleanly


def test_damaged_cache_raises_with_advice(workspace):
    path = data.cache_path(workspace)
    path.write_bytes(b"this is not an npz file at all")
    with pytest.raises(DatasetError) as info:
        data.load_split(workspace)
    assert str(path) in str(info.value) and "delete it" in str(info.value)
    assert path.read_bytes() == b"this is not an npz file at all"


@pytest.mark.parametrize("damage", ["cut in half", "bytes overwritten"])
def test_a_truncated_cache_raises_dataset_error(tmp_path, monkeypatch, workspace, damage):
    folder = tmp_path / "mine"
    write_dataset(folder, n_train=200, n_test=50)
    monkeypatch.setenv("FMNIST_DATA_DIR", str(folder))
    ws = settings.load()
    data.load_split(ws)
    path = data.cache_path(ws)
    raw = path.read_bytes()
    mid = len(raw) // 2
    path.write_bytes(raw[:mid] if damage == "cut in half" else raw[:mid] + b"\0" * 64 + raw[mid + 64:])
    with pytest.raises(DatasetError) as info:
        data.load_split(ws)
    assert str(path) in str(info.value) and "delete it" in str(info.value)


# -- the real notebook split --------------------------------------------------------------------

def test_split_sizes(split):
    assert split.x_train.shape == (42000, 28, 28) and split.y_train.shape == (42000,)
    assert split.x_val.shape == (18000, 28, 28) and split.y_val.shape == (18000,)
    assert split.x_test.shape == (10000, 28, 28) and split.y_test.shape == (10000,)
    for arr in (split.x_train, split.y_train, split.x_val, split.y_val, split.x_test, split.y_test):
        assert arr.dtype == np.uint8
    assert split.part("val")[0] is split.x_val and split.part("test")[1] is split.y_test


def test_split_is_the_notebooks_split(split, split_workspace):
    files = data.find_files(split_workspace)
    x = data.parse_idx(files["train_images"], "images")
    y = data.parse_idx(files["train_labels"], "labels")
    xt = data.parse_idx(files["test_images"], "images")
    yt = data.parse_idx(files["test_labels"], "labels")
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.3, random_state=np.random.RandomState(20240329))
    np.testing.assert_array_equal(split.x_train, x_tr)
    np.testing.assert_array_equal(split.y_train, y_tr)
    np.testing.assert_array_equal(split.x_val, x_va)
    np.testing.assert_array_equal(split.y_val, y_va)
    np.testing.assert_array_equal(split.x_test, xt)
    np.testing.assert_array_equal(split.y_test, yt)


def test_majority_class_figures_match_the_notebook(split):
    counts = np.bincount(split.y_train, minlength=10)
    assert int(counts.argmax()) == 7
    assert round(float(np.mean(split.y_train == 7)), 4) == 0.1024
    assert round(float(np.mean(split.y_val == 7)), 4) == 0.0944
    assert round(float(np.mean(split.y_test == 7)), 4) == 0.1000


def test_cached_load_equals_a_fresh_build(split, split_workspace):
    assert data.cache_path(split_workspace).is_file()
    assert _leftovers(split_workspace.cache_dir) == []
    built = data._build(split_workspace)
    again = data.load_split(split_workspace)
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(split, name), built[name])
        np.testing.assert_array_equal(getattr(again, name), built[name])


@pytest.mark.parametrize("n", [100, 1000, 4321])
def test_stratified_subset_keeps_class_proportions(split, n):
    idx = data.stratified_subset(split.y_train, n, seed=20240329)
    assert len(idx) == n and len(np.unique(idx)) == n
    assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < len(split.y_train)
    full = np.bincount(split.y_train, minlength=10) / len(split.y_train)
    sub = np.bincount(split.y_train[idx], minlength=10)
    # stratification puts each class within one image of its exact share
    assert np.all(np.abs(sub - full * n) <= 1.0), (sub, full * n)
    np.testing.assert_array_equal(idx, data.stratified_subset(split.y_train, n, seed=20240329))


def test_stratified_subset_of_everything_is_everything():
    y = np.arange(50) % 10
    np.testing.assert_array_equal(data.stratified_subset(y, 50, 0), np.arange(50))
    np.testing.assert_array_equal(data.stratified_subset(y, 80, 0), np.arange(50))


def test_the_shared_split_is_one_read_only_copy_for_every_thread(split_workspace, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor
    data._shared_split.cache_clear()
    loads = []
    real = data.load_split
    monkeypatch.setattr(data, "load_split", lambda s: loads.append(s) or real(s))
    with ThreadPoolExecutor(8) as pool:
        splits = list(pool.map(lambda _: data.shared_split(split_workspace), range(16)))
    assert len(loads) == 1 and all(s is splits[0] for s in splits)
    with pytest.raises(ValueError, match="read-only"):
        splits[0].x_train[0, 0, 0] = 255  # one session cannot change the images every other session sees
    assert not splits[0].y_test.flags.writeable
    data._shared_split.cache_clear()

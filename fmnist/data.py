"""Find, verify, parse and cache Fashion-MNIST; the notebook's split; the class names."""
from __future__ import annotations

import functools
import gzip
import threading
import zipfile
import zlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from fmnist import files
from fmnist.config import NOTEBOOK_SEED
from fmnist.settings import Settings

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
NUM_CLASSES = len(CLASS_NAMES)
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_DIR = Path("~/.keras/datasets/fashion-mnist").expanduser()
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
CACHE_NAME = "fashion-mnist-v1.npz"
HOW_TO_FIX = ("Get a good copy with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
              "or delete the file and let Keras download it, or point FMNIST_DATA_DIR at a folder "
              "holding the four files.")


class DatasetError(RuntimeError):
    pass


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray  # (42000, 28, 28) uint8
    y_train: np.ndarray  # (42000,) uint8
    x_val: np.ndarray    # (18000, 28, 28)
    y_val: np.ndarray
    x_test: np.ndarray   # (10000, 28, 28)
    y_test: np.ndarray

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


def _find_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def candidate_dirs(settings: Settings) -> list[Path]:
    dirs = [settings.data_dir] if settings.data_dir else []
    return dirs + candidate_dirs_default()


def find_files(settings: Settings) -> dict[str, Path] | None:
    """The first folder, in search order, that holds all four files (plain or gzipped).

    FMNIST_DATA_DIR, when set, must hold them: a typo there should not silently fall back."""
    for folder in candidate_dirs(settings):
        found = {key: _find_file(folder, stem) for key, stem in FILES.items()}
        if all(found.values()):
            return found
        if folder == settings.data_dir:
            missing = [FILES[k] for k, v in found.items() if v is None]
            raise DatasetError(f"FMNIST_DATA_DIR={folder} lacks {', '.join(missing)} (plain or .gz). {HOW_TO_FIX}")
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DatasetError(f"{path}: cannot be read ({exc}). {HOW_TO_FIX}") from exc


def parse_idx(path: Path, expect: str) -> np.ndarray:
    """Parse an IDX file ('images' -> (n,28,28) uint8, 'labels' -> (n,) uint8), checking every header field."""
    raw = _read_bytes(path)
    magic = IMAGES_MAGIC if expect == "images" else LABELS_MAGIC
    header = 16 if expect == "images" else 8
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated, only {len(raw)} bytes. {HOW_TO_FIX}")
    got = int.from_bytes(raw[0:4], "big")
    if got != magic:
        raise DatasetError(f"{path}: magic number {got}, expected {magic} for {expect}; "
                           f"not a Fashion-MNIST {expect} file. {HOW_TO_FIX}")
    count = int.from_bytes(raw[4:8], "big")
    shape = (count,)
    if expect == "images":
        rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
        if (rows, cols) != (28, 28):
            raise DatasetError(f"{path}: images are {rows}x{cols}, expected 28x28. {HOW_TO_FIX}")
        shape = (count, 28, 28)
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DatasetError(f"{path}: {len(raw)} bytes where the header promises {expected} "
                           f"(truncated or padded). {HOW_TO_FIX}")
    arr = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
    if expect == "labels" and count and arr.max() > 9:
        raise DatasetError(f"{path}: label {int(arr.max())} found, labels must be 0-9. {HOW_TO_FIX}")
    return arr


def read_files(files: dict[str, Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arrays = {key: parse_idx(path, key.split("_")[1]) for key, path in files.items()}
    for part in ("train", "test"):
        n_img, n_lab = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if n_img != n_lab:
            raise DatasetError(f"{files[part + '_images']} holds {n_img} images but {files[part + '_labels']} "
                               f"holds {n_lab} labels. {HOW_TO_FIX}")
    return arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"]


def _download() -> tuple[np.ndarray, ...]:
    try:
        import keras
        (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data()
    except Exception as exc:  # noqa: BLE001 - any network or file failure means the same to the user
        raise DatasetError(f"Fashion-MNIST was not found in {', '.join(map(str, candidate_dirs_default()))} "
                           f"and the Keras download failed ({exc}). {HOW_TO_FIX}") from exc
    return x, y, xt, yt


def candidate_dirs_default() -> list[Path]:
    """The folders searched when FMNIST_DATA_DIR is not set (read at call time: tests point KERAS_DIR elsewhere)."""
    return [DEBIAN_DIR, KERAS_DIR]


def notebook_split(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """The notebook's 70/30 split: 42,000 train, 18,000 validation."""
    from sklearn.model_selection import train_test_split
    return train_test_split(x, y, test_size=0.3, random_state=np.random.RandomState(NOTEBOOK_SEED))


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz cache, never half-written."""
    with files.atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _build(settings: Settings) -> dict[str, np.ndarray]:
    files = find_files(settings)
    x, y, xt, yt = read_files(files) if files else _download()
    x_train, x_val, y_train, y_val = notebook_split(x, y)
    return dict(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=xt, y_test=yt)


def cache_path(settings: Settings) -> Path:
    return settings.cache_dir / CACHE_NAME


def load_split(settings: Settings) -> Split:
    """The notebook's split, from the workspace cache (built on first use)."""
    path = cache_path(settings)
    if not path.exists():
        write_arrays(path, _build(settings))
    try:
        with np.load(path) as npz:
            arrays = {f.name: npz[f.name] for f in fields(Split)}  # older caches also hold a "source"
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(f"The dataset cache {path} is damaged ({exc}); delete it and it will be rebuilt.") from exc
    return Split(**arrays)


_SHARED_LOCK = threading.Lock()


def shared_split(settings: Settings) -> Split:
    """load_split once per workspace in this process: the pages and the sketch's neighbours share one copy.
    Its arrays are read-only, so no session can change what the others see; forty sessions opening a page
    at once load it once."""
    with _SHARED_LOCK:
        return _shared_split(settings)


@functools.lru_cache(maxsize=2)
def _shared_split(settings: Settings) -> Split:
    split = load_split(settings)
    for array in vars(split).values():
        if isinstance(array, np.ndarray):
            array.flags.writeable = False
    return split


def missing_dataset_message(settings: Settings, node: str | None = None) -> str | None:
    """None when this node can load the split without a download, else why not, naming the node.

    For a worker on a cluster node: there a silent 30 MB download per node is not wanted, and a
    failed one would say nothing about which machine lacks the data."""
    if cache_path(settings).exists():
        return None
    try:
        if find_files(settings):
            return None
        where = ", ".join(map(str, candidate_dirs(settings)))
        why = f"none of {where} holds the four Fashion-MNIST files"
    except DatasetError as exc:  # FMNIST_DATA_DIR set but incomplete
        why = str(exc).split(". ", 1)[0]
    import socket
    return (f"Fashion-MNIST is missing on node {node or socket.gethostname()}: {why}. On that node run "
            "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or set FMNIST_DATA_DIR to a folder "
            "holding the four IDX files.")


def data_location(settings: Settings) -> str:
    """Where the data comes from, for the sidebar; never triggers a download."""
    try:
        files = find_files(settings)
    except DatasetError as exc:
        return str(exc)
    if files:
        return str(files["train_images"].parent)
    return "not found yet: the first load downloads it through Keras"


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of a class-stratified subset of size n."""
    if n >= len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)

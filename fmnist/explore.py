"""What the Data page shows, as plain numpy: the file order, samples, class counts, means, 2-D maps."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fmnist import data

SOURCES = {
    "all": "All 60,000 (file order)",
    "train": "Train (42,000)",
    "val": "Validation (18,000)",
    "test": "Test (10,000)",
}
SPLITS = {"train": "Train", "val": "Validation", "test": "Test"}
EMBED_VERSION = 1  # bump when an embedding's recipe changes, so old disk caches are not reused


def file_order(split: data.Split) -> tuple[np.ndarray, np.ndarray]:
    """The 60,000 training images in the files' order, rebuilt from the notebook's split.

    train_test_split's permutation depends only on the number of rows and the seed, so splitting
    the positions 0..n-1 the same way says which file row each split row came from. This needs no
    files (it works after a Keras download too) and no second copy of the data on disk."""
    n = len(split.y_train) + len(split.y_val)
    pos_train, pos_val, _, _ = data.notebook_split(np.arange(n), np.arange(n))
    x = np.empty((n, *split.x_train.shape[1:]), dtype=split.x_train.dtype)
    y = np.empty(n, dtype=split.y_train.dtype)
    x[pos_train], x[pos_val] = split.x_train, split.x_val
    y[pos_train], y[pos_val] = split.y_train, split.y_val
    return x, y


def source_arrays(split: data.Split, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one entry of SOURCES."""
    if source == "all":
        return file_order(split)
    if source not in SPLITS:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    return split.part(source)


def sample_indices(labels: np.ndarray, n: int, classes: tuple[int, ...] | list[int] = (),
                   seed: int = 0, ordered: bool = True) -> np.ndarray:
    """Up to n row indices of images whose label is in classes (all classes when empty):
    the first n in order, or n drawn without replacement with the seed."""
    labels = np.asarray(labels)
    pool = np.flatnonzero(np.isin(labels, list(classes))) if len(classes) else np.arange(len(labels))
    if ordered:
        return pool[:n]
    return np.random.default_rng(seed).choice(pool, size=min(n, len(pool)), replace=False)


def sample_title(count: int, source: str, classes: tuple[int, ...] | list[int] = (), seed: int = 0) -> str:
    """What a sample is, in words: 'The first 25 images of Train (42,000) · Sneaker, Bag'."""
    which = f"The first {count} images of" if seed == 0 else f"{count} random images (seed {seed}) from"
    only = ""
    if classes:  # more than three names would not fit one line on a projector
        names = ", ".join(data.CLASS_NAMES[c] for c in classes) if len(classes) <= 3 else f"{len(classes)} classes"
        only = " · " + names
    return f"{which} {SOURCES[source]}{only}"


def class_counts(split: data.Split) -> dict[str, list[int]]:
    """Images per class in each split, {"Train": [10 counts], "Validation": [...], "Test": [...]}."""
    return {name: np.bincount(split.part(key)[1], minlength=data.NUM_CLASSES).tolist()
            for key, name in SPLITS.items()}


def mean_images(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mean image of each class, (10, 28, 28) float; zeros for a class with no image."""
    means = np.zeros((data.NUM_CLASSES, *x.shape[1:]))
    for c in range(data.NUM_CLASSES):
        mask = y == c
        if mask.any():
            means[c] = x[mask].mean(axis=0)
    return means


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel as a factor x factor block: a browser scaling 28 px up would blur it."""
    return np.kron(image, np.ones((factor, factor), dtype=image.dtype))


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float32) / 255.0


def _key(method: str, x: np.ndarray, idx: np.ndarray, seed: int) -> str:
    """Names the embedding by its input: the same images, seed and recipe give the same file."""
    digest = hashlib.blake2b(np.ascontiguousarray(x[idx]).tobytes() + idx.tobytes(), digest_size=8).hexdigest()
    return f"{method}-v{EMBED_VERSION}-{len(idx)}-{seed}-{digest}.npz"


def disk_cached(path: Path | None, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """compute(), kept in path: read back when present, recomputed when missing or damaged."""
    if path is not None and path.exists():
        try:
            with np.load(path) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError):
            pass  # a damaged cache is recomputed and overwritten below
    arrays = compute()
    if path is not None:
        data.write_arrays(path, arrays)
    return arrays


def embedding_path(method: str, x: np.ndarray, y: np.ndarray, n: int, seed: int, cache_dir: Path | None) -> Path | None:
    """Where the embedding ('pca' or 'tsne') of these images is kept on disk; None without a cache folder."""
    if cache_dir is None:
        return None
    return cache_dir / "embeddings" / _key(method, x, data.stratified_subset(np.asarray(y), n, seed), seed)


def _embed(method: str, x: np.ndarray, y: np.ndarray, n: int, seed: int, cache_dir: Path | None,
           fit: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = data.stratified_subset(np.asarray(y), n, seed)
    path = embedding_path(method, x, y, n, seed, cache_dir)
    points = disk_cached(path, lambda: {"points": fit(_flat(x[idx]))})["points"]
    return points, np.asarray(y)[idx], idx


def _one_thread():
    # The map is computed in the web server beside training workers; on a busy 2-core machine
    # t-SNE with one thread took 10 s, with all of them 93 s (threads waiting on each other).
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1)


def embed_pca(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0, cache_dir: Path | None = None):
    """First two principal components of a class-stratified sample of n images.

    Returns (points (n, 2), labels (n,), indices into x (n,))."""
    def fit(flat):
        from sklearn.decomposition import PCA
        with _one_thread():
            return PCA(n_components=2, random_state=seed).fit_transform(flat)
    return _embed("pca", x, y, n, seed, cache_dir, fit)


def embed_tsne(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0, cache_dir: Path | None = None):
    """t-SNE of a class-stratified sample of n images (after PCA to 50 dimensions, the usual
    speed-up that keeps the neighbourhoods), with a fixed seed. Same return as embed_pca."""
    def fit(flat):
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE
        with _one_thread():
            reduced = PCA(n_components=min(50, *flat.shape), random_state=seed).fit_transform(flat)
            return TSNE(n_components=2, init="pca", perplexity=min(30.0, (len(flat) - 1) / 3),
                        random_state=seed).fit_transform(reduced)
    return _embed("tsne", x, y, n, seed, cache_dir, fit)

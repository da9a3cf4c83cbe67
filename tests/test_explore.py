"""fmnist.explore checked against independent computations: the files, numpy, scikit-learn."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from fmnist import data, explore
from fmnist.settings import REPO_ROOT


def clusters(n_per_class: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten well-separated blobs of 28x28 uint8 images: class c is bright in band c."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10, dtype=np.uint8), n_per_class)
    x = rng.integers(0, 40, size=(len(y), 28, 28)).astype(np.uint8)
    for c in range(10):
        x[y == c, c * 2:c * 2 + 6, :] += 200
    return x, y


# -- the file order and the sources ---------------------------------------------------------------

def test_file_order_is_the_training_file_as_it_is_on_disk(split, split_workspace):
    x_file, y_file, _, _ = data.read_files(data.find_files(split_workspace))
    x, y = explore.file_order(split)
    np.testing.assert_array_equal(y, y_file)
    np.testing.assert_array_equal(x, x_file)


def test_sources_are_the_split_parts(split):
    for key in ("train", "val", "test"):
        x, y = explore.source_arrays(split, key)
        assert x is getattr(split, f"x_{key}") and y is getattr(split, f"y_{key}")
    assert len(explore.source_arrays(split, "all")[1]) == 60_000
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        explore.source_arrays(split, "nope")


# -- samples --------------------------------------------------------------------------------------

def test_ordered_sample_of_25_is_the_first_25():
    labels = np.arange(100) % 10
    np.testing.assert_array_equal(explore.sample_indices(labels, 25), np.arange(25))


def test_ordered_filtered_sample_is_the_first_of_the_chosen_classes():
    labels = np.array([0, 7, 3, 8, 7, 1, 8, 8, 2, 7])
    got = explore.sample_indices(labels, 4, classes=(7, 8))
    np.testing.assert_array_equal(got, [1, 3, 4, 6])


def test_shuffled_sample_is_repeatable_distinct_and_only_the_chosen_classes():
    labels = np.random.default_rng(1).integers(0, 10, size=5000)
    a = explore.sample_indices(labels, 100, classes=(2, 5), seed=3, ordered=False)
    b = explore.sample_indices(labels, 100, classes=(2, 5), seed=3, ordered=False)
    c = explore.sample_indices(labels, 100, classes=(2, 5), seed=4, ordered=False)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(set(a.tolist())) == 100
    assert set(labels[a].tolist()) == {2, 5}


def test_sample_larger_than_the_pool_returns_the_whole_pool():
    labels = np.array([1, 2, 1, 3])
    assert sorted(explore.sample_indices(labels, 10, classes=(1,), seed=5, ordered=False)) == [0, 2]
    np.testing.assert_array_equal(explore.sample_indices(labels, 10), [0, 1, 2, 3])


def test_sample_titles_say_which_images():
    assert explore.sample_title(25, "all") == "The first 25 images of All 60,000 (file order)"
    assert explore.sample_title(9, "test", (7, 8)) == "The first 9 images of Test (10,000) · Sneaker, Bag"
    assert (explore.sample_title(16, "val", (0, 1, 2, 3), seed=4)
            == "16 random images (seed 4) from Validation (18,000) · 4 classes")


# -- counts and means -----------------------------------------------------------------------------

def test_class_counts_match_counting_each_split(split):
    counts = explore.class_counts(split)
    assert list(counts) == ["Train", "Validation", "Test"]
    for name, y in (("Train", split.y_train), ("Validation", split.y_val), ("Test", split.y_test)):
        tally = Counter(y.tolist())
        assert counts[name] == [tally[c] for c in range(10)]
    assert counts["Test"] == [1000] * 10
    assert sum(counts["Train"]) == 42_000 and sum(counts["Validation"]) == 18_000


def test_mean_images_match_masked_means_and_an_empty_class_is_black():
    x, y = clusters(7)
    y = y.copy()
    y[y == 4] = 3  # class 4 now has no image
    means = explore.mean_images(x, y)
    onehot = (y[None, :] == np.arange(10)[:, None]).astype(float)
    sums = onehot @ x.reshape(len(x), -1).astype(float)
    expected = np.divide(sums, onehot.sum(1, keepdims=True), out=np.zeros_like(sums),
                         where=onehot.sum(1, keepdims=True) > 0).reshape(10, 28, 28)
    assert means.shape == (10, 28, 28)
    np.testing.assert_allclose(means, expected)
    assert not means[4].any()


def test_enlarge_repeats_each_pixel_into_a_block():
    img = np.arange(6, dtype=np.uint8).reshape(2, 3)
    big = explore.enlarge(img, 4)
    np.testing.assert_array_equal(big, img.repeat(4, axis=0).repeat(4, axis=1))
    assert big.dtype == np.uint8


# -- 2-D maps -------------------------------------------------------------------------------------

def test_pca_points_are_sklearns_pca_of_a_stratified_sample(split):
    points, labels, idx = explore.embed_pca(split.x_train, split.y_train, 1000, seed=0)
    assert points.shape == (1000, 2) and len(set(idx.tolist())) == 1000
    np.testing.assert_array_equal(labels, split.y_train[idx])
    share = np.bincount(split.y_train, minlength=10) / len(split.y_train) * 1000
    assert np.abs(np.bincount(labels, minlength=10) - share).max() < 1.5  # stratified: the split's class shares
    direct = PCA(n_components=2).fit_transform(split.x_train[idx].reshape(1000, -1) / 255.0)
    np.testing.assert_allclose(points, direct, atol=1e-3)


def test_tsne_separates_clear_classes_and_is_cached_on_disk(tmp_path, monkeypatch):
    x, y = clusters(30)
    points, labels, idx = explore.embed_tsne(x, y, 200, seed=0, cache_dir=tmp_path)
    np.testing.assert_array_equal(labels, y[idx])
    knn = KNeighborsClassifier(5).fit(points, labels)
    assert knn.score(points, labels) > 0.95  # neighbours in the map share a class
    files = list((tmp_path / "embeddings").iterdir())
    assert [f.suffix for f in files] == [".npz"] and files[0].name.startswith("tsne-")

    import sklearn.manifold
    monkeypatch.setattr(sklearn.manifold, "TSNE", None)  # a second call must not recompute
    again, _, idx2 = explore.embed_tsne(x, y, 200, seed=0, cache_dir=tmp_path)
    np.testing.assert_array_equal(again, points)
    np.testing.assert_array_equal(idx2, idx)


def test_disk_cache_recomputes_a_damaged_file_and_keys_on_the_input(tmp_path):
    x, y = clusters(20)
    first, _, _ = explore.embed_pca(x, y, 100, seed=0, cache_dir=tmp_path)
    (path,) = (tmp_path / "embeddings").iterdir()
    path.write_bytes(b"not an npz")
    again, _, _ = explore.embed_pca(x, y, 100, seed=0, cache_dir=tmp_path)
    np.testing.assert_allclose(again, first)
    with np.load(path) as npz:  # rewritten whole
        np.testing.assert_allclose(npz["points"], first)
    explore.embed_pca(x, y, 100, seed=1, cache_dir=tmp_path)
    explore.embed_pca(255 - x, y, 100, seed=0, cache_dir=tmp_path)
    assert len(list((tmp_path / "embeddings").iterdir())) == 3  # no leftover temp files either


def test_explorer_modules_do_not_load_tensorflow():
    code = ("import sys, numpy as np; import fmnist.explore as e, fmnist.data, fmnist.charts; "
            "x = np.zeros((40, 28, 28), np.uint8); x[::2] = 200; y = np.arange(40) % 2; "
            "e.embed_pca(x, y, 20); e.mean_images(x, y); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF loaded'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

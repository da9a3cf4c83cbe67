"""fmnist.pipelines: every image once an epoch, labels kept with their images, seeded reshuffles, autotuning off."""
from __future__ import annotations

import numpy as np
import pytest

from fmnist import pipelines

pytest.importorskip("tensorflow")

N = 37  # not a multiple of the batch: the last batch is short


def images_and_labels():
    """Image i's pixels are all i, its label is i: a batch shows whether labels travel with their images."""
    x = np.repeat(np.arange(N, dtype=np.uint8), 4).reshape(N, 2, 2)
    return x, np.arange(N)


def epoch(ds) -> tuple[list[int], list[int]]:
    pixels, labels = [], []
    for xb, yb in ds:
        pixels += xb.numpy()[:, 0, 0].tolist()
        labels += yb.numpy().tolist()
    return pixels, labels


def test_without_a_seed_batches_come_in_order_and_the_last_is_short():
    x, y = images_and_labels()
    ds = pipelines.batches(x, y, batch_size=8)
    sizes = [len(yb) for _, yb in ds]
    assert sizes == [8, 8, 8, 8, 5] and ds.cardinality().numpy() == 5
    assert epoch(ds) == (list(range(N)), list(range(N)))


def test_a_seed_reshuffles_every_epoch_keeping_each_label_with_its_image():
    x, y = images_and_labels()
    ds = pipelines.batches(x, y, batch_size=8, shuffle_seed=3)
    first, second = epoch(ds), epoch(ds)
    for pixels, labels in (first, second):
        assert pixels == labels and sorted(labels) == list(range(N))
    assert first[1] != second[1] != list(range(N))


def test_the_same_seed_gives_the_same_order_and_another_seed_another():
    x, y = images_and_labels()
    again = epoch(pipelines.batches(x, y, batch_size=8, shuffle_seed=3))
    assert epoch(pipelines.batches(x, y, batch_size=8, shuffle_seed=3)) == again
    assert epoch(pipelines.batches(x, y, batch_size=8, shuffle_seed=4)) != again


def test_images_alone_come_as_plain_batches():
    x, _ = images_and_labels()
    got = [b.numpy() for b in pipelines.batches(x, batch_size=16)]
    assert [len(b) for b in got] == [16, 16, 5]
    np.testing.assert_array_equal(np.concatenate(got), x)


def test_autotuning_is_off():
    x, y = images_and_labels()
    for ds in (pipelines.batches(x, y, batch_size=8, shuffle_seed=1), pipelines.batches(x, batch_size=8)):
        assert ds.options().autotune.enabled is False

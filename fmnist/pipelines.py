"""Arrays in batches as tf.data pipelines with tf.data's autotuning off: what the lab's fits and predictions read.

Keras turns numpy arrays into its own autotuned pipeline, and TensorFlow 2.21 then stalls whenever an iterator
of it is destroyed (each epoch, each validation, each predict): the destructor waits for the autotuning thread's
next wake-up, whose period backs off to seconds, with every core idle. Measured on lab_best's 13.5-minute budget
(2-core CPU): epochs of 11-12 s or, stalled, 20-21 s, 49 of them, the process at 117% CPU of 200%; through this
pipeline 72 epochs of 10.8-11.7 s (14 s the first) at 173%. Nothing here is tuned, so nothing waits: batches are
gathered ahead in one background thread."""
from __future__ import annotations

import numpy as np

PREFETCH = 2  # batches gathered ahead of the step that needs them


def batches(x: np.ndarray, y: np.ndarray | None = None, *, batch_size: int, shuffle_seed: int | None = None):
    """(x, y) batches (x alone without y), in order, or reshuffled each epoch when `shuffle_seed` is given.

    Indices are shuffled and each batch gathered from the whole arrays, as Keras's own array pipeline does;
    shuffling the images themselves would copy every image through a 42,000-element buffer each epoch."""
    import tensorflow as tf

    n = len(x)
    indices = tf.data.Dataset.range(n)
    if shuffle_seed is not None:
        indices = indices.shuffle(n, seed=shuffle_seed, reshuffle_each_iteration=True)
    arrays = tf.data.Dataset.from_tensors(x if y is None else (x, y)).repeat()
    ds = tf.data.Dataset.zip(indices.batch(batch_size), arrays)
    ds = ds.map(lambda i, data: tf.nest.map_structure(lambda a: tf.gather(a, i), data))
    return ds.prefetch(PREFETCH).with_options(_untuned())


def _untuned():
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    # as Keras's own: rewriting so small a pipeline costs more than it saves
    options.experimental_optimization.apply_default_optimizations = False
    return options

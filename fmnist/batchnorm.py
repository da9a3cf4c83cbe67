"""Keras's BatchNormalization computed by TensorFlow's fused kernel: the same weights and arithmetic, one op.

Keras 3 normalises with a dozen separate ops (casts to float32, moments, rsqrt, scale, shift) and as many
again in the gradient; on a 2-core CPU they took longer than the convolutions themselves. TensorFlow's
FusedBatchNormV3 (oneDNN on a CPU, cuDNN on a GPU) does each direction in one op: a lab_best epoch took
0.82x as long in float32 and 0.47x in bfloat16 on a 2-core Xeon with AMX (`python -m fmnist bench --only
batchnorm`).
Hand-written because Keras 3 dropped the `fused=True` option that Keras 2 had.

Imported by a fit and by anything that loads a saved network (it imports TensorFlow)."""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable("fmnist")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization over the last axis of a 2-D or 4-D input, on the fused kernel.

    Anything else the Keras layer offers (another axis, masks, renorm, synchronised statistics) goes to
    Keras's own code. The moving variance is the batch's unbiased variance, as Keras 2's fused layer had it
    (Keras 3 uses the biased one: a factor of n/(n-1), with n at least 128 here)."""

    def call(self, inputs, training=None, mask=None):
        rank = len(inputs.shape)
        if (mask is not None or self.renorm or self.synchronized or rank not in (2, 4)
                or self.axis not in (-1, rank - 1)):
            return super().call(inputs, training=training, mask=mask)
        x = inputs if rank == 4 else inputs[:, None, None, :]  # the kernel wants NHWC
        y = self._fused(x, bool(training and self.trainable))
        return y if rank == 4 else y[:, 0, 0, :]

    def _fused(self, x, training: bool):
        channels = x.shape[-1]
        scale = self.gamma if self.scale else tf.ones((channels,), "float32")
        offset = self.beta if self.center else tf.zeros((channels,), "float32")
        mean, variance = tf.convert_to_tensor(self.moving_mean), tf.convert_to_tensor(self.moving_variance)
        if not training:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, mean, variance, self.epsilon,
                                                       is_training=False)
            return y
        # exponential_avg_factor: the kernel itself moves the averages, (1 - f) * moving + f * batch
        y, new_mean, new_variance = tf.compat.v1.nn.fused_batch_norm(
            x, scale, offset, mean, variance, self.epsilon, is_training=True,
            exponential_avg_factor=1.0 - self.momentum)
        self.moving_mean.assign(new_mean)
        self.moving_variance.assign(new_variance)
        return y

"""The network of the classic JAX MNIST tutorial, written for xtrace.

A three-layer perceptron (784 -> 512 -> 512 -> 10, ReLU) whose ``predict`` handles ONE image;
``xtrace.vmap`` turns it into ``batched_predict`` without rewriting it for batches. ``update``
is one step of plain SGD on the cross-entropy. Nothing here is jitted: the training script
runs the same functions eagerly and under ``xtrace.jit``.
"""
from __future__ import annotations

import numpy as np

import xtrace
import xtrace.numpy as xnp
from xtrace import random
from xtrace.nn import logsumexp

LAYER_SIZES = [784, 512, 512, 10]
N_TARGETS = 10


def random_layer_params(m, n, key, scale=None):
    """Weights (n, m) and biases (n,) of a dense layer from m to n units.

    The tutorial draws both from N(0, 0.01^2); He scaling, sqrt(2 / m), lets the ReLU layers
    learn from the first step, which matters when training on the 8,000-digit subset for ten
    epochs. Pass ``scale=1e-2`` for the tutorial's initialisation.
    """
    w_key, b_key = random.split(key)
    if scale is None:
        return np.sqrt(2.0 / m) * random.normal(w_key, (n, m)), xnp.zeros((n,))
    return scale * random.normal(w_key, (n, m)), scale * random.normal(b_key, (n,))


def init_network_params(sizes, key, scale=None):
    """A list of (weights, biases), one pair per layer, from one random key."""
    keys = random.split(key, len(sizes))
    return [random_layer_params(m, n, k, scale) for m, n, k in zip(sizes[:-1], sizes[1:], keys)]


def relu(x):
    return xnp.maximum(0, x)


def predict(params, image):
    """Log-probabilities of the 10 classes for ONE flattened image of shape (784,)."""
    activations = image
    for w, b in params[:-1]:
        outputs = xnp.dot(w, activations) + b
        activations = relu(outputs)
    final_w, final_b = params[-1]
    logits = xnp.dot(final_w, activations) + final_b
    return logits - logsumexp(logits)


# Images of shape (batch, 784) in, log-probabilities (batch, 10) out: the parameters are shared
# (in_axes None), the images are mapped along their first axis. Each layer stays one matmul.
batched_predict = xtrace.vmap(predict, in_axes=(None, 0))


def one_hot(x, k=N_TARGETS, dtype=xnp.float32):
    """One-hot encoding of integer labels ``x`` (n,) into (n, k)."""
    return xnp.array(xnp.asarray(x)[:, None] == xnp.arange(k), dtype)


def accuracy(params, images, targets):
    """Fraction of ``images`` whose most likely class is the one-hot ``targets``' class."""
    target_class = xnp.argmax(targets, axis=1)
    predicted_class = xnp.argmax(batched_predict(params, images), axis=1)
    return xnp.mean(predicted_class == target_class)


def loss(params, images, targets):
    """Mean cross-entropy over the batch.

    (The tutorial's ``-mean(preds * targets)`` also averages over the 10 classes, i.e. it is this
    loss divided by 10: the same training with a step size ten times larger.)
    """
    preds = batched_predict(params, images)
    return -xnp.mean(xnp.sum(preds * targets, axis=1))


def update(params, x, y, step_size):
    """One SGD step: the new parameters and the loss before the step.

    ``step_size`` is an argument, not a global, so ``xtrace.jit(update)`` compiles once for
    every learning rate.
    """
    value, grads = xtrace.value_and_grad(loss)(params, x, y)
    new_params = [(w - step_size * dw, b - step_size * db)
                  for (w, b), (dw, db) in zip(params, grads)]
    return new_params, value

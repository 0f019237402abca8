"""``xtrace.nn``: neural-network functions with ``jax.nn``'s names and semantics.

Activations (relu, gelu, silu, ...), ``softmax``/``log_softmax``/``logsumexp`` (stable for
large inputs), ``one_hot``, ``standardize``; parameter initializers in
``xtrace.nn.initializers``.
"""
from xtrace._src.nn.functions import (  # noqa: F401
    celu, elu, gelu, glu, hard_sigmoid, hard_silu, hard_swish, hard_tanh, identity, leaky_relu,
    log1mexp, log_sigmoid, log_softmax, logmeanexp, logsumexp, mish, one_hot, relu, relu6, selu,
    sigmoid, silu, soft_sign, softmax, softplus, sparse_plus, sparse_sigmoid, squareplus,
    standardize, swish, tanh)
from xtrace._src.nn.attention import dot_product_attention  # noqa: F401
from xtrace.nn import initializers  # noqa: F401

__all__ = [
    "celu", "dot_product_attention", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "identity", "initializers", "leaky_relu", "log1mexp", "log_sigmoid", "log_softmax",
    "logmeanexp", "logsumexp", "mish", "one_hot", "relu", "relu6", "selu", "sigmoid", "silu",
    "soft_sign", "softmax", "softplus", "sparse_plus", "sparse_sigmoid", "squareplus",
    "standardize", "swish", "tanh",
]

"""``jax.scipy.linalg`` functions that need no matrix decomposition: ``block_diag``,
``toeplitz``."""
from __future__ import annotations

import numpy as np

import xtrace.numpy as xnp
from xtrace._src.array import Array
from xtrace._src.numpy.core import promote_dtypes_only


def block_diag(*arrs) -> Array:
    """The block-diagonal matrix of the arguments (scalars and vectors count as 1-row blocks);
    no argument gives an empty ``(1, 0)`` matrix."""
    if not arrs:
        arrs = (xnp.zeros((1, 0)),)
    arrs = [xnp.asarray(a) for a in promote_dtypes_only(*[xnp.asarray(a) for a in arrs])]
    bad = [i for i, a in enumerate(arrs) if a.ndim > 2]
    if bad:
        raise ValueError("Arguments to xtrace.scipy.linalg.block_diag must have at most 2 "
                         f"dimensions, got {arrs[bad[0]].shape} at argument {bad[0]}.")
    arrs = [xnp.reshape(a, (1, -1)) if a.ndim < 2 else a for a in arrs]
    cols = sum(a.shape[1] for a in arrs)
    rows, start = [], 0
    for a in arrs:
        rows.append(xnp.pad(a, ((0, 0), (start, cols - start - a.shape[1]))))
        start += a.shape[1]
    return xnp.concatenate(rows, axis=0)


def toeplitz(c, r=None) -> Array:
    """The Toeplitz matrix with first column ``c`` and first row ``r`` (``r[0]`` is ignored;
    default ``conj(c)``); leading dimensions of ``c`` and ``r`` broadcast as batches."""
    c = xnp.asarray(c)
    if r is None:
        r = xnp.conj(c)
    r = xnp.asarray(r)
    c, r = promote_dtypes_only(c, r)
    c, r = xnp.atleast_1d(c), xnp.atleast_1d(r)
    batch = np.broadcast_shapes(c.shape[:-1], r.shape[:-1])
    c = xnp.broadcast_to(c, batch + c.shape[-1:])
    r = xnp.broadcast_to(r, batch + r.shape[-1:])
    n, m = c.shape[-1], r.shape[-1]
    # entry (i, j) is c[i - j] below the diagonal and r[j - i] above: index the sequence
    # [c[n-1], ..., c[1], c[0], r[1], ..., r[m-1]] at (j - i) + n - 1.
    seq = xnp.concatenate([xnp.flip(c, -1), r[..., 1:]], axis=-1)
    idx = np.arange(m)[None, :] - np.arange(n)[:, None] + n - 1
    return seq[..., idx]

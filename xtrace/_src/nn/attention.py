"""``xtrace.nn.dot_product_attention``: scaled dot-product attention as ``jax.nn`` has it.

Multi-head, grouped-query (``N`` query heads share ``K`` key/value heads, ``N % K == 0``) and
multi-query attention, with an additive ``bias``, a boolean ``mask``, causal and local-window
masks and per-example sequence lengths. It is written with ``einsum`` and ``softmax`` (JAX's
'xla' implementation), so it works under ``jit``, ``vmap`` and ``grad``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import xtrace.numpy as xnp
from xtrace._src import dtypes
from xtrace._src.array import Array
from xtrace._src.custom_derivatives import stop_gradient
from xtrace._src.nn.functions import logsumexp, softmax


def _as_4d(name: str, t: Any) -> Array:
    t = xnp.asarray(t)
    if t.ndim > 4 or t.ndim < 3 and name in ("query", "key", "value"):
        raise ValueError(f"dot_product_attention: {name} must have 3 or 4 dimensions "
                         f"((T|S), heads, head_dim with an optional leading batch), got shape "
                         f"{t.shape}")
    return t.reshape((1,) * (4 - t.ndim) + t.shape)


def _grouped(name: str, t: Array | None, n_heads: int, groups: int, shape4) -> Array | None:
    """A (B|1, N|1, T|1, S|1) bias or mask as (B|1, K, G, T, S), the heads split in groups."""
    if t is None:
        return None
    t = _as_4d(name, t)
    try:
        t = xnp.broadcast_to(t, (t.shape[0],) + tuple(shape4[1:]))
    except ValueError:
        raise ValueError(f"dot_product_attention: {name} of shape {t.shape} cannot be broadcast "
                         f"to (B, N, T, S) = {tuple(shape4)}") from None
    if t.shape[0] not in (1, shape4[0]):
        raise ValueError(f"dot_product_attention: {name} of shape {t.shape} cannot be broadcast "
                         f"to (B, N, T, S) = {tuple(shape4)}")
    return t.reshape((t.shape[0], n_heads // groups, groups) + tuple(shape4[2:]))


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale: float | None = None,
                          is_causal: bool = False, query_seq_lengths=None,
                          key_value_seq_lengths=None,
                          local_window_size: int | tuple[int, int] | None = None,
                          implementation: str | None = None, return_residual: bool = False):
    """``softmax(query @ key^T * scale + bias, masked) @ value`` per head.

    ``query`` is (B, T, N, H) or (T, N, H); ``key`` and ``value`` are (B, S, K, H) or (S, K, H)
    with ``N`` a multiple of ``K``. ``bias`` (added to the logits) and ``mask`` (True keeps a
    logit) broadcast to (B, N, T, S). ``scale`` defaults to ``1/sqrt(H)``. ``is_causal`` keeps
    keys at or before each query's position, ``local_window_size`` (left, right) or an int keeps
    a window around it, and the sequence lengths mask padding (masked query rows give zeros).
    The softmax runs in float32. With ``return_residual`` also returns the logsumexp of the
    logits, shape (B, T, N) or (T, N).
    """
    if implementation not in (None, "xla", "cudnn"):
        raise ValueError(f"dot_product_attention: unknown implementation {implementation!r}; "
                         "use None, 'xla' or 'cudnn'")
    if implementation == "cudnn":
        raise NotImplementedError("dot_product_attention: xtrace has only the 'xla' "
                                  "implementation (implementation=None or 'xla')")
    out_shape = xnp.shape(query)
    q, k, v = (_as_4d(n, t) for n, t in (("query", query), ("key", key), ("value", value)))
    B, T, N, H = q.shape
    _, S, K, _ = k.shape
    if k.shape != v.shape or k.shape[0] != B or k.shape[3] != H or K == 0 or N % K:
        raise ValueError(f"dot_product_attention: query {q.shape} (B, T, N, H), key {k.shape} "
                         f"and value {v.shape} (B, S, K, H) must agree in B and H, key and "
                         "value must have one shape, and N must be a multiple of K")
    G = N // K
    logits_dtype = dtypes.promote_types(q.dtype, np.float32)
    logits = xnp.einsum("btkgh,bskh->bkgts", q.reshape(B, T, K, G, H), k,
                        preferred_element_type=logits_dtype)
    scale = 1.0 / np.sqrt(H) if scale is None else scale
    logits = logits * xnp.asarray(scale, logits_dtype)
    bias = _grouped("bias", bias, N, G, (B, N, T, S))
    if bias is not None:
        logits = (logits + bias).astype(logits_dtype)

    keep = _grouped("mask", mask, N, G, (B, N, T, S))
    if keep is not None and keep.dtype != np.bool_:
        raise ValueError(f"dot_product_attention: mask must be boolean, got {keep.dtype}")
    t_pos, s_pos = xnp.arange(T)[:, None], xnp.arange(S)[None, :]
    extra = []
    if is_causal:
        extra.append(t_pos >= s_pos)
    if local_window_size is not None:
        left, right = ((local_window_size, local_window_size)
                       if isinstance(local_window_size, int) else local_window_size)
        extra.append((t_pos <= s_pos + left) & (t_pos >= s_pos - right))
    if query_seq_lengths is not None:
        q_len = xnp.asarray(query_seq_lengths)
        extra.append((xnp.arange(T)[None, :] < q_len[:, None])[:, None, None, :, None])
    if key_value_seq_lengths is not None:
        kv_len = xnp.asarray(key_value_seq_lengths)
        extra.append((xnp.arange(S)[None, :] < kv_len[:, None])[:, None, None, None, :])
    for m in extra:
        keep = m if keep is None else keep & m
    if keep is not None:
        big = min(float(dtypes.finfo(logits_dtype).max), float(np.finfo(np.float32).max))
        logits = xnp.where(keep, logits, xnp.asarray(-0.7 * big, logits_dtype))

    logits32 = logits.astype(np.float32)
    probs = softmax(logits32, axis=-1).astype(k.dtype)
    out = xnp.einsum("bkgts,bskh->btkgh", probs, v).reshape(B, T, N, H)
    if query_seq_lengths is not None:
        rows = xnp.arange(T)[None, :] < xnp.asarray(query_seq_lengths)[:, None]
        out = out * rows[:, :, None, None].astype(out.dtype)
    out = out.reshape(out_shape)
    if not return_residual:
        return out
    lse = logsumexp(logits32, axis=-1).astype(k.dtype)  # (B, K, G, T)
    lse = xnp.transpose(lse, (0, 3, 1, 2)).reshape((B, T, N))
    return out, stop_gradient(lse.reshape(out_shape[:-1]))

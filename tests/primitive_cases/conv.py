"""Cases for conv_general_dilated, checked against a direct NumPy convolution."""
from __future__ import annotations

import numpy as np

from xtrace import lax
from tests.primitive_cases import Case, rand


def _dilate(x: np.ndarray, dilation) -> np.ndarray:
    """Insert ``d - 1`` zeros between neighbours along each spatial axis (axes 2...)."""
    shape = x.shape[:2] + tuple(max(0, (n - 1) * d + 1) for n, d in zip(x.shape[2:], dilation))
    out = np.zeros(shape, x.dtype)
    out[(slice(None),) * 2 + tuple(slice(None, None, d) for d in dilation)] = x
    return out


def same_pads(in_sizes, window, strides, lower=False):
    pads = []
    for n, k, s in zip(in_sizes, window, strides):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        lo, hi = total // 2, total - total // 2
        pads.append((hi, lo) if lower else (lo, hi))
    return pads


def np_conv(lhs, rhs, strides, padding, lhs_dilation=None, rhs_dilation=None, specs=None,
            feature_group_count=1, batch_group_count=1, out_dtype=None):
    """Reference convolution: move to N C spatial / O I spatial, dilate, pad, then one einsum
    per output position over the window (grouping by reshaping features or batch)."""
    nsp = lhs.ndim - 2
    out_dtype = out_dtype or lhs.dtype
    if specs is None:
        letters = "".join(chr(ord("a") + i) for i in range(nsp))
        specs = ("NC" + letters, "OI" + letters, "NC" + letters)
    ls, rs, os_ = specs
    spatial = [c for c in rs if c not in "OI"]
    acc = np.complex128 if lhs.dtype.kind == "c" else (
        np.int64 if lhs.dtype.kind in "iu" else np.float64)
    x = lhs.transpose([ls.index(c) for c in "NC" + "".join(spatial)]).astype(acc)
    w = rhs.transpose([rs.index(c) for c in "OI" + "".join(spatial)]).astype(acc)
    x = _dilate(x, lhs_dilation or (1,) * nsp)
    w = _dilate(w, rhs_dilation or (1,) * nsp)
    if isinstance(padding, str):
        padding = ([(0, 0)] * nsp if padding == "VALID" else
                   same_pads(x.shape[2:], w.shape[2:], strides, padding == "SAME_LOWER"))
    x = np.pad(x, [(0, 0)] * 2 + [(max(lo, 0), max(hi, 0)) for lo, hi in padding])
    x = x[(slice(None),) * 2 + tuple(slice(max(-lo, 0), n - max(-hi, 0))
                                     for (lo, hi), n in zip(padding, x.shape[2:]))]
    n, c = x.shape[:2]
    o, i = w.shape[:2]
    k = w.shape[2:]
    out_sp = [max(0, (xs - ks) // s + 1) for xs, ks, s in zip(x.shape[2:], k, strides)]
    g, b = feature_group_count, batch_group_count
    out = np.zeros((n // b, o) + tuple(out_sp), acc)
    wg = w.reshape(g * b, o // (g * b), i, -1)
    for pos in np.ndindex(*out_sp):
        win = x[(slice(None),) * 2 + tuple(slice(p * s, p * s + kk)
                                           for p, s, kk in zip(pos, strides, k))]
        if b > 1:   # lhs batch splits into b groups, each convolved with one block of outputs
            r = np.einsum("bncs,bocs->nbo", win.reshape(b, n // b, c, -1), wg)
        else:       # lhs features split into g groups, each with one block of outputs
            r = np.einsum("ngcs,gocs->ngo", win.reshape(n, g, c // g, -1), wg)
        out[(slice(None),) * 2 + pos] = r.reshape(n // b, o)
    canon = "NC" + "".join(spatial)
    return out.transpose([canon.index(ch) for ch in os_]).astype(out_dtype)


def _case(lhs_shape, rhs_shape, strides, padding, name, dtype=np.float32, **kw):
    lhs, rhs = rand(lhs_shape, dtype, seed=1), rand(rhs_shape, dtype, seed=2)
    np_kw = {k: v for k, v in kw.items() if k not in ("dimension_numbers", "precision",
                                                       "preferred_element_type")}
    if "dimension_numbers" in kw:
        np_kw["specs"] = kw["dimension_numbers"]
    if kw.get("preferred_element_type") is not None:
        np_kw["out_dtype"] = np.dtype(kw["preferred_element_type"])
    return Case(lambda a, b: lax.conv_general_dilated(a, b, strides, padding, **kw),
                [lhs, rhs], lambda a, b: np_conv(a, b, strides, padding, **np_kw),
                rtol=1e-4, atol=1e-4, name=name)


NHWC = ("NHWC", "HWIO", "NHWC")
CASES = {"conv_general_dilated": [
    _case((2, 3, 6, 7), (4, 3, 3, 2), (1, 1), "VALID", "nchw_valid"),
    _case((2, 3, 7, 6), (4, 3, 3, 3), (2, 1), "SAME", "nchw_same_strided"),
    _case((1, 2, 6, 5), (3, 2, 2, 3), (2, 2), "SAME_LOWER", "same_lower"),
    _case((2, 6, 5, 3), (3, 2, 3, 4), (1, 2), "SAME", "nhwc_same", dimension_numbers=NHWC),
    _case((1, 5, 3, 6), (3, 3, 4, 2), (1, 1), [(1, 0), (2, 1)], "mixed_layout",
          dimension_numbers=("NWCH", "IHOW", "CWNH")),
    _case((1, 2, 5, 6), (3, 2, 3, 2), (1, 2), [(2, 1), (-1, 2)], "explicit_negative_pad"),
    _case((2, 2, 4, 5), (3, 2, 3, 3), (1, 1), [(2, 2), (1, 2)], "lhs_dilation",
          lhs_dilation=(2, 3)),
    _case((1, 2, 9, 8), (2, 2, 3, 2), (2, 1), "SAME", "rhs_dilation", rhs_dilation=(2, 3)),
    _case((2, 4, 6, 6), (4, 1, 3, 3), (1, 1), "SAME", "depthwise", feature_group_count=4),
    _case((1, 6, 5, 4), (4, 3, 2, 2), (1, 1), "VALID", "feature_groups2",
          feature_group_count=2),
    _case((4, 3, 5, 5), (6, 3, 2, 2), (1, 1), "VALID", "batch_groups2", batch_group_count=2),
    _case((2, 3, 9), (4, 3, 3), (2,), [(1, 2)], "conv1d", rhs_dilation=(2,)),
    _case((1, 2, 4, 5, 3), (2, 2, 2, 3, 2), (1, 2, 1), "SAME", "conv3d"),
    _case((2, 6, 3, 5, 4), (2, 3, 2, 4, 3), (2, 1, 1), "VALID", "conv3d_ndhwc",
          dimension_numbers=("NDHWC", "DHWIO", "NDHWC")),
    _case((2, 3, 5, 5), (2, 3, 3, 3), (1, 1), "SAME", "int32", dtype=np.int32),
    _case((1, 2, 4, 4), (2, 2, 2, 2), (1, 1), "VALID", "complex64", dtype=np.complex64),
    _case((1, 2, 5, 5), (2, 2, 3, 3), (1, 1), "VALID", "f16_to_f32", dtype=np.float16,
          preferred_element_type=np.float32),
    _case((2, 3, 4, 4), (4, 3, 2, 2), (3, 3), "VALID", "stride_bigger_than_window"),
]}

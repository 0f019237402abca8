"""Dtype kinds, iterability and printing: isdtype, iterable, array_str, array_repr and
NumPy's print options (which xtrace arrays follow when printed)."""
from __future__ import annotations

from typing import Any

import numpy as np

from xtrace._src import dtypes

_KINDS = {
    "bool": lambda d: d == dtypes.bool_,
    "signed integer": dtypes.is_signed_int,
    "unsigned integer": dtypes.is_unsigned,
    "integral": dtypes.is_int,
    "real floating": dtypes.is_float,
    "complex floating": dtypes.is_complex,
    "numeric": lambda d: dtypes.is_int(d) or dtypes.is_inexact(d),
}


def isdtype(dtype: Any, kind: Any) -> bool:
    """Whether ``dtype`` is of ``kind``: a kind name (``'bool'``, ``'signed integer'``,
    ``'unsigned integer'``, ``'integral'``, ``'real floating'``, ``'complex floating'``,
    ``'numeric'``), a dtype, or a tuple of these (the array API's isdtype)."""
    dt = np.dtype(dtype)
    for k in kind if isinstance(kind, tuple) else (kind,):
        if isinstance(k, str) and k in _KINDS:
            if _KINDS[k](dt):
                return True
            continue
        try:
            other = np.dtype(k)
        except TypeError as e:
            if isinstance(k, str):
                raise ValueError(f"isdtype: unrecognized kind={k!r}; expected one of "
                                 f"{list(_KINDS)}, or a compatible input for dtype()") from e
            raise TypeError(f"isdtype: expected kind to be a dtype, string, or tuple; got "
                            f"kind={k!r}") from e
        if dt == other:
            return True
    return False


iterable = np.iterable
array_str = np.array_str
array_repr = np.array_repr
printoptions = np.printoptions
get_printoptions = np.get_printoptions
set_printoptions = np.set_printoptions

__all__ = ["isdtype", "iterable", "array_str", "array_repr", "printoptions",
           "get_printoptions", "set_printoptions"]

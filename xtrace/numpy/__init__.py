"""``xtrace.numpy``: NumPy's API on xtrace arrays (functional: no in-place mutation)."""
import numpy as _np

from xtrace._src import dtypes as _dtypes
from xtrace._src.numpy.core import *  # noqa: F401,F403
from xtrace._src.numpy.core import ndarray  # noqa: F401
from xtrace._src.numpy.creation import *  # noqa: F401,F403
from xtrace._src.numpy.linalg import *  # noqa: F401,F403
from xtrace._src.numpy.reductions import *  # noqa: F401,F403
from xtrace._src.numpy.shapes import *  # noqa: F401,F403
from xtrace._src.numpy.ufuncs import *  # noqa: F401,F403
from xtrace._src.numpy.searching import *  # noqa: F401,F403
from xtrace._src.numpy.index_tricks import *  # noqa: F401,F403
from xtrace._src.numpy.polynomial import *  # noqa: F401,F403
from xtrace._src.numpy.statistics import *  # noqa: F401,F403
from xtrace._src.numpy.calculus import *  # noqa: F401,F403
from xtrace._src.numpy.vectorize import *  # noqa: F401,F403
from xtrace._src.numpy.bits import *  # noqa: F401,F403
from xtrace._src.numpy.info import *  # noqa: F401,F403

bool_ = _np.bool_
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
float16, float32, float64 = _np.float16, _np.float32, _np.float64
bfloat16 = _dtypes.bfloat16.type
complex64, complex128 = _np.complex64, _np.complex128
dtype = _np.dtype
pi, e, inf, nan, newaxis = _np.pi, _np.e, _np.inf, _np.nan, None
promote_types = _dtypes.promote_types
issubdtype = _dtypes.issubdtype
finfo = _dtypes.finfo
iinfo = _dtypes.iinfo
integer, floating, inexact, number = _np.integer, _np.floating, _np.inexact, _np.number
signedinteger, unsignedinteger = _np.signedinteger, _np.unsignedinteger
complexfloating, generic = _np.complexfloating, _np.generic

bool = _np.bool_  # noqa: A001  (jax.numpy.bool)
int_, uint = _np.int64, _np.uint64  # as JAX: 64-bit types; arrays follow the x64 rules
float_, double, single = _np.float64, _np.float64, _np.float32
complex_, cdouble, csingle = _np.complex128, _np.complex128, _np.complex64
object_, character, flexible = _np.object_, _np.character, _np.flexible
euler_gamma = _np.euler_gamma
from xtrace._src.numpy.creation import save, savez  # noqa: F401,E402  (NumPy's own)
from xtrace.numpy import fft  # noqa: E402,F401  (the xtrace.numpy.fft submodule)
from xtrace._src.numpy.ufunc_objects import ufunc, make_ufuncs as _make_ufuncs  # noqa: E402
_make_ufuncs(globals())  # add, multiply, ...: ufunc objects (reduce, accumulate, outer, at)

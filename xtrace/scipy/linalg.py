"""``xtrace.scipy.linalg``: the ``jax.scipy.linalg`` functions that need no decomposition."""
from xtrace._src.scipy.linalg import block_diag, toeplitz  # noqa: F401
from xtrace._src.scipy.linalg_schur import funm  # noqa: F401
from xtrace._src.scipy.linalg_schur import rsf2csf  # noqa: F401
from xtrace._src.scipy.linalg_schur import schur  # noqa: F401
from xtrace._src.scipy.linalg_schur import sqrtm  # noqa: F401

__all__ = ["block_diag", "toeplitz"]
__all__ += ["funm"]
__all__ += ["rsf2csf"]
__all__ += ["schur"]
__all__ += ["sqrtm"]

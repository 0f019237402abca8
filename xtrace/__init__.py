"""xtrace: composable transformations of NumPy programs, compiled and run by XLA.

``xtrace.jit`` compiles a function into one XLA program; ``xtrace.numpy`` is NumPy's API on
device arrays; ``xtrace.make_jaxpr`` shows the IR a function traces to.
"""
from xtrace._src import prims as _prims  # noqa: F401  (registers every primitive)
from xtrace._src.numpy import array_methods as _array_methods  # noqa: F401
from xtrace._src.array import Array
from xtrace._src.backend import (Device, default_backend, device_count, devices,
                                 live_buffer_count, local_device_count, local_devices,
                                 process_count, process_index)
from xtrace._src.config import config, disable_jit, enable_x64
from xtrace._src.environment import print_environment_info
from xtrace._src.core import ShapedArray
from xtrace._src.api import (grad, hessian, jacfwd, jacobian, jacrev, jvp, linearize,
                             value_and_grad, vjp, vmap)
from xtrace._src.api_extras import (ShapeDtypeStruct, custom_gradient,
                                    device_get, eval_shape, float0, host_count, host_id,
                                    host_ids, linear_transpose, live_arrays, named_call,
                                    named_scope, process_indices, typeof)
from xtrace._src.custom_derivatives import (checkpoint, checkpoint_policies, closure_convert,
                                            custom_jvp, custom_vjp, remat)
from xtrace._src.jit import (block_until_ready, clear_caches, default_device, device_put,
                             ensure_compile_time_eval, jit, make_jaxpr)
from xtrace._src.pmap import device_put_replicated, device_put_sharded, pmap
from xtrace._src.callback import pure_callback
from xtrace import (custom_batching, debug, distributed, errors, experimental, image,  # noqa: F401
                    lax, nn, numpy, random, scipy, tree, tree_util, version)

from xtrace.version import __version__

__all__ = ["Array", "ShapedArray", "jit", "make_jaxpr", "grad", "value_and_grad", "jvp", "vjp",
           "linearize", "vmap", "pmap", "device_put_replicated", "device_put_sharded", "jacfwd", "jacrev", "hessian", "custom_jvp", "custom_vjp", "closure_convert", "checkpoint",
           "remat", "devices", "local_devices", "local_device_count", "process_index",
           "process_count",
           "device_count", "default_backend", "device_put", "block_until_ready", "config",
           "enable_x64", "live_buffer_count", "jacobian", "eval_shape", "ShapeDtypeStruct",
           "device_get", "disable_jit", "clear_caches", "linear_transpose", "custom_gradient",
           "named_call", "named_scope", "ensure_compile_time_eval", "float0", "typeof",
           "checkpoint_policies", "host_count", "host_id", "host_ids", "process_indices",
           "live_arrays", "Device", "pure_callback", "debug", "experimental", "version",
           "default_device", "print_environment_info", "custom_batching", "distributed", "errors",
           "image", "lax", "nn", "numpy", "random", "scipy", "tree",
           "tree_util"]

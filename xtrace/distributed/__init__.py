"""Several processes, one set of devices: ``initialize`` first in every process, then
``pmap`` spans the devices of all of them (docs/distributed.md).
``python -m xtrace.distributed.launch -n N script.py`` starts N local processes."""
from xtrace._src.distributed import DistributedError, initialize, is_initialized, shutdown

__all__ = ["initialize", "shutdown", "is_initialized", "DistributedError"]

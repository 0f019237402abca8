"""``xtrace.print_environment_info()``: versions, backends and devices, for bug reports."""
from __future__ import annotations

import platform
import sys
from typing import TextIO

import numpy as np

from xtrace._src import backend, plugins


def environment_info() -> str:
    """The text ``print_environment_info`` prints. Starts the default backend if needed; when
    it cannot start, says why instead of raising (this is what goes into bug reports)."""
    import xtrace
    from xtrace._src.config import config

    try:
        default, error = backend.get_backend(), None  # starts it (accelerators tried first)
    except (RuntimeError, ValueError) as e:  # the requested platform cannot start: say why
        default, error = None, str(e)
    lines = [
        f"xtrace:     {xtrace.__version__}",
        f"jaxlib:     {backend.jaxlib_version()}",
        f"numpy:      {np.__version__}",
        f"python:     {sys.version.split()[0]} ({sys.executable})",
        f"platform:   {platform.platform()}",
        f"platforms option: {config.read('platforms') or 'auto (accelerator first, then cpu)'}",
    ]
    for dist in ("jax-cuda12-pjrt", "jax-cuda12-plugin", "jax-cuda13-pjrt",
                 "jax-cuda13-plugin", "libtpu"):
        version = plugins.installed_version(dist)
        if version is not None:
            lines.append(f"{dist + ':':19s} {version}")
    lines.append("backends:")
    for name, status, detail in backend.backend_report():
        lines.append(f"  {name:5s} {status:12s} {detail}")
    if default is None:
        lines.append(f"no default backend: {error}")
        return "\n".join(lines)
    from xtrace._src import distributed
    if default.process_count > 1 or distributed.is_initialized():
        lines.append("processes:  this is " + (distributed.describe() or
                     f"process {default.process_index} of {default.process_count}"))
    lines.append(f"devices ({default.platform}, the default):")
    for d in default.devices:
        lines.append(f"  {d}  [{d.device_kind}, process {d.process_index}]")
    return "\n".join(lines)


def print_environment_info(file: TextIO | None = None) -> None:
    """Print xtrace's, jaxlib's, NumPy's and Python's versions, the OS, which backends were
    found or skipped (and why), and the default backend's devices."""
    print(environment_info(), file=file if file is not None else sys.stdout)

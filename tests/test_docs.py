"""The documentation stays true: its runnable snippets run, and the API reference is complete.

* Every page of docs/ that carries the marker ``<!-- test: run the python blocks -->`` has its
  ```` ```python ```` blocks executed in order, in one namespace per page (as a reader typing
  them into one session would). The snippets hold their own assertions against NumPy values.
* ``docs/api.md`` lists every public name of each public module (``__all__``, or ``dir()``
  without underscores) under that module's heading, and lists no name the module lacks.
"""
from __future__ import annotations

import importlib
import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
RUN_MARKER = "<!-- test: run the python blocks -->"
# Pages whose snippets run: every page carrying the marker (these three at least).
RUNNABLE = sorted(p.name for p in DOCS.glob("*.md") if RUN_MARKER in p.read_text())
REQUIRED_RUNNABLE = {"quickstart.md", "transformations.md", "sharp_edges.md"}
API_MODULES = ["xtrace", "xtrace.numpy", "xtrace.numpy.linalg", "xtrace.numpy.fft", "xtrace.lax",
               "xtrace.lax.linalg", "xtrace.random", "xtrace.nn", "xtrace.nn.initializers",
               "xtrace.tree_util", "xtrace.tree", "xtrace.custom_batching", "xtrace.distributed",
               "xtrace.errors", "xtrace.scipy", "xtrace.scipy.special", "xtrace.scipy.stats",
               "xtrace.scipy.linalg", "xtrace.debug", "xtrace.experimental",
               "xtrace.scipy.signal", "xtrace.scipy.fft", "xtrace.scipy.integrate",
               "xtrace.scipy.ndimage", "xtrace.scipy.interpolate", "xtrace.scipy.cluster",
               "xtrace.scipy.cluster.vq", "xtrace.scipy.sparse", "xtrace.scipy.sparse.linalg",
               "xtrace.image"]


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python fenced blocks of a Markdown page, with the line each starts on."""
    blocks, lines, start, buf = [], text.splitlines(), None, []
    for n, line in enumerate(lines, 1):
        if start is None:
            if line.strip() == "```python":
                start, buf = n + 1, []
        elif line.strip() == "```":
            blocks.append((start, "\n".join(buf) + "\n"))
            start = None
        else:
            buf.append(line)
    assert start is None, f"unclosed ```python block starting at line {start}"
    return blocks


def test_required_pages_are_runnable():
    assert REQUIRED_RUNNABLE <= set(RUNNABLE), REQUIRED_RUNNABLE - set(RUNNABLE)


@pytest.mark.parametrize("page", RUNNABLE)
def test_snippets_run(page):
    import xtrace
    path = DOCS / page
    blocks = python_blocks(path.read_text())
    assert blocks, f"{page} has no python blocks"
    namespace: dict = {"__name__": f"docs.{page}"}
    x64 = xtrace.config.enable_x64
    try:
        for line, src in blocks:
            # Line numbers in tracebacks point into the page.
            code = compile("\n" * (line - 1) + src, str(path), "exec")
            exec(code, namespace)
    finally:
        xtrace.config.update("enable_x64", x64)


def api_sections(text: str) -> dict[str, set[str]]:
    """Names listed per ``## `module` `` heading of api.md: the backquoted names that open
    each bullet (``- `a`, `b`: description``)."""
    sections: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^## `([\w.]+)`\s*$", line)
        if m:
            current = sections.setdefault(m.group(1), set())
            continue
        m = re.match(r"^- ((?:`[^`]+`(?:, )?)+):", line)
        if m and current is not None:
            current.update(re.findall(r"`([^`]+)`", m.group(1)))
    return sections


def public_names(module) -> set[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    return set(names)


@pytest.mark.parametrize("modname", API_MODULES)
def test_api_reference_lists_every_public_name(modname):
    sections = api_sections((DOCS / "api.md").read_text())
    assert modname in sections, f"docs/api.md has no '## `{modname}`' section"
    public = public_names(importlib.import_module(modname))
    missing = sorted(public - sections[modname])
    extra = sorted(sections[modname] - public)
    assert not missing, f"docs/api.md does not describe these names of {modname}: {missing}"
    assert not extra, f"docs/api.md lists names that {modname} does not have: {extra}"

"""MNIST for the example: IDX files, checksums, a per-user cache, mirrors and a bundled subset.

``load_mnist()`` picks the data in this order and says which it took:

1. ``data_dir`` (``--data DIR``): the four IDX files in that folder, gzip or not;
2. the full MNIST in the cache folder (``$XTRACE_MNIST_DIR``, else
   ``$XDG_CACHE_HOME/xtrace/mnist``, else ``~/.cache/xtrace/mnist``), downloading the missing
   files from the public mirrors first unless offline (``--offline`` or
   ``XTRACE_MNIST_OFFLINE=1``);
3. the 10,000-digit subset shipped next to this file (``mnist-subset/``, 8,000 train /
   2,000 test; see its README for provenance and licence).

Every file read (gzip or decompressed) and every download is checked against its published
SHA-256; a mismatch raises ``ChecksumError`` naming the file and what to do (``--no-verify``
reads other data sets laid out the same way, such as Fashion-MNIST).
Only NumPy and the standard library are used, so the loader also serves tests and the notebook.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import sys
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

# The four files of MNIST, by role; the names are the same for the full set and the subset.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the full MNIST archives as the mirrors serve them (60,000 / 10,000 digits).
FULL_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# ... and of the same four files decompressed (as many copies and packages keep them).
FULL_RAW_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# SHA-256 of the bundled subset (8,000 / 2,000 digits), gzip as shipped and decompressed.
SUBSET_SHA256 = {
    "train-images-idx3-ubyte.gz": "71e0e0dd710ecd2d7ead1460d4a1e34f0fb4b851e0484e2a57540886058e2089",
    "train-labels-idx1-ubyte.gz": "45f5f1ec777ab35eb8a2e7c57f7dd6cf548651dde096b111c31e6fd3f3d15373",
    "t10k-images-idx3-ubyte.gz": "47225405e2a4a602c42c5df218f9ed4cda114ce99977ea3f0a31b7c3d9daee3d",
    "t10k-labels-idx1-ubyte.gz": "142624c8f3ae0e3d36afe21579bfa4ace627bd7f6f921be9d0f840452b0efde4",
    "train-images-idx3-ubyte": "57cc05c587eb89ce11216d3ce30bd3cc072b293cf58040c61baed47242f34fe6",
    "train-labels-idx1-ubyte": "1598fd38e5a6b0e8c00daf6e922c7a4eb1f601fb52898e35d354126248d2e319",
    "t10k-images-idx3-ubyte": "1311050d63fd605c7d48a729a00cfe2575e7d59c24a0433871d0199f8b7dc191",
    "t10k-labels-idx1-ubyte": "ed0a7c091b81c6d7541e7e48ff1d4fda174fd5f769977ad62fa0755b3764bb89",
}

MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
DOWNLOAD_TIMEOUT_S = 10.0
SUBSET_DIR = Path(__file__).resolve().parent / "mnist-subset"

# IDX element types (the third byte of the magic number) -> big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class ChecksumError(ValueError):
    """A data file's SHA-256 is not the published one (corrupt, truncated or another data set)."""


@dataclasses.dataclass
class Dataset:
    """MNIST as arrays: images float32 in [0, 1] of shape (n, 784), labels int32 of shape (n,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # one line saying which data this is and where it came from

    def limit(self, n: int | None) -> "Dataset":
        """The first ``n`` training and ``n`` test examples (all of them for None)."""
        if n is None:
            return self
        return Dataset(self.train_images[:n], self.train_labels[:n], self.test_images[:n],
                       self.test_labels[:n], f"{self.source}, first {n} of each split")


# --- IDX files ------------------------------------------------------------------------------

def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode one IDX file (gzip-compressed or not, detected from its first bytes)."""
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{name}: not an IDX file (magic bytes {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: IDX header for {ndim} dimensions is cut short")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != size:
        raise ValueError(f"{name}: IDX shape {shape} needs {size} bytes of data, "
                         f"the file has {len(raw) - header}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def canonical_name(path: Path) -> str:
    """``train-images.idx3-ubyte`` (how some archives unpack) -> ``train-images-idx3-ubyte``."""
    return Path(path).name.replace(".idx", "-idx")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def verify(path: Path, known: dict[str, str], hint: str) -> None:
    """Raise ChecksumError unless ``path``'s SHA-256 is the one ``known`` lists for its name."""
    path = Path(path)
    got = sha256(path)
    want = known.get(canonical_name(path))
    if got != want:
        raise ChecksumError(f"checksum mismatch for {path}:\n  expected sha256 {want}\n"
                            f"  got      sha256 {got}\n{hint}")


def find_files(folder: Path) -> dict[str, Path] | None:
    """The four MNIST files in ``folder`` by role (``.gz`` preferred), or None if any is missing."""
    found = {}
    for role, stem in FILES.items():
        # "train-images.idx3-ubyte" is how some archives unpack the same file.
        names = (stem + ".gz", stem, stem.replace("-idx", ".idx"))
        path = next((Path(folder) / n for n in names if (Path(folder) / n).is_file()), None)
        if path is None:
            return None
        found[role] = path
    return found


def read_folder(folder: Path, known: dict[str, str] | None = None, hint: str = "",
                source: str | None = None) -> Dataset:
    """Read the four IDX files of ``folder``; verify each against ``known`` when given."""
    folder = Path(folder)
    paths = find_files(folder)
    if paths is None:
        names = ", ".join(f"{s}[.gz]" for s in FILES.values())
        raise FileNotFoundError(f"{folder} does not hold the four MNIST IDX files ({names})")
    if known is not None:
        for path in paths.values():
            verify(path, known, hint)
    arrays = {role: parse_idx(p.read_bytes(), str(p)) for role, p in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{folder}: {split} images {images.shape} and labels {labels.shape} "
                             "do not match (expected (n, rows, cols) and (n,))")
    as_float = lambda a: (a.reshape(len(a), -1).astype(np.float32) / 255.0)  # noqa: E731
    n_train, n_test = len(arrays["train_labels"]), len(arrays["test_labels"])
    return Dataset(as_float(arrays["train_images"]), arrays["train_labels"].astype(np.int32),
                   as_float(arrays["test_images"]), arrays["test_labels"].astype(np.int32),
                   source or f"{folder} ({n_train:,} train / {n_test:,} test)")


def describe_checksums(paths: Iterable[Path]) -> str:
    """Which known set these files match: 'full MNIST', 'the bundled subset', or ''."""
    hashes = {canonical_name(p): sha256(p) for p in paths}
    for label, known in (("full MNIST", {**FULL_SHA256, **FULL_RAW_SHA256}),
                         ("the bundled subset", SUBSET_SHA256)):
        if all(known.get(name) == h for name, h in hashes.items()):
            return label
    return ""


# --- the cache and the mirrors --------------------------------------------------------------

def cache_dir() -> Path:
    """Where the full MNIST is kept: $XTRACE_MNIST_DIR, else the user's cache folder."""
    if os.environ.get("XTRACE_MNIST_DIR"):
        return Path(os.environ["XTRACE_MNIST_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "xtrace" / "mnist"


def offline_from_env() -> bool:
    return os.environ.get("XTRACE_MNIST_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def download(folder: Path, mirrors: Iterable[str] = MIRRORS, known: dict[str, str] = FULL_SHA256,
             timeout: float = DOWNLOAD_TIMEOUT_S, log: Callable[[str], None] = print) -> None:
    """Fetch each file of ``known`` missing from ``folder``, trying the mirrors in turn.

    A file lands under its final name only after its checksum matched, so an interrupted or
    corrupt download never poisons the cache. Raises OSError naming every failed attempt.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, want in known.items():
        target = folder / name
        if target.is_file():
            continue
        errors = []
        for mirror in mirrors:
            url = mirror + name
            log(f"downloading {url}")
            part = target.with_name(name + ".part")
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    part.write_bytes(response.read())
                got = sha256(part)
                if got != want:
                    raise ChecksumError(f"checksum mismatch (sha256 {got}, expected {want})")
                part.replace(target)
                break
            except (OSError, ValueError) as e:  # URLError and timeouts are OSErrors
                part.unlink(missing_ok=True)
                errors.append(f"{url}: {e}")
        else:
            raise OSError(f"could not download {name}:\n  " + "\n  ".join(errors))


def load_mnist(data_dir: str | Path | None = None, offline: bool | None = None,
               cache: str | Path | None = None, mirrors: Iterable[str] = MIRRORS,
               verify_data_dir: bool = True, log: Callable[[str], None] = print) -> Dataset:
    """MNIST from ``data_dir``, else the cache (downloading if online), else the bundled subset.

    ``offline`` None reads XTRACE_MNIST_OFFLINE. ``verify_data_dir`` False reads a ``data_dir``
    whose files are not MNIST's (e.g. Fashion-MNIST, same names) without checking them.
    """
    if data_dir is not None:
        return _read_user_folder(Path(data_dir).expanduser(), verify_data_dir)
    folder = Path(cache).expanduser() if cache is not None else cache_dir()
    offline = offline_from_env() if offline is None else offline
    hint = ("Delete it so that the next run downloads it again, or point XTRACE_MNIST_DIR "
            "or --data at a good copy.")
    full = {**FULL_SHA256, **FULL_RAW_SHA256}
    have_all = find_files(folder) is not None  # the .gz archives, or the files decompressed
    if not have_all and not offline:
        try:
            download(folder, mirrors, FULL_SHA256, log=log)
            have_all = True
        except OSError as e:
            log(f"MNIST download failed ({e}).\nPut the four MNIST .gz files into {folder} "
                "or pass --data DIR to train on the full set.")
    if have_all:
        return read_folder(folder, full, hint,
                           f"full MNIST from {folder} (60,000 train / 10,000 test)")
    why = "offline" if offline else "no download"
    log(f"{why}: using the 10,000-digit MNIST subset bundled with the example ({SUBSET_DIR}).")
    return read_folder(SUBSET_DIR, SUBSET_SHA256,
                       "The bundled subset is damaged: restore examples/mnist/mnist-subset/ "
                       "from the repository.",
                       "bundled MNIST subset (8,000 train / 2,000 test)")


def _read_user_folder(folder: Path, check: bool) -> Dataset:
    """``--data DIR``: each file must be full MNIST's or the subset's (gzip or decompressed),
    unless ``check`` is False."""
    paths = find_files(folder)
    if paths is None:
        return read_folder(folder)  # raises FileNotFoundError naming the expected files
    note, label = "checksums not checked", ""
    if check:
        known = (FULL_SHA256, FULL_RAW_SHA256, SUBSET_SHA256)
        bad = [p.name for p in paths.values()
               if sha256(p) not in {k.get(canonical_name(p)) for k in known}]
        if bad:
            raise ChecksumError(
                f"checksum mismatch in {folder}: {', '.join(bad)} are neither the published "
                "MNIST files (gzip or decompressed) nor the bundled subset. Download them again, "
                "or pass --no-verify to train on other IDX files with these names "
                "(e.g. Fashion-MNIST).")
        note, label = "checksums verified", describe_checksums(paths.values())
    dataset = read_folder(folder)
    counts = f"{len(dataset.train_labels):,} train / {len(dataset.test_labels):,} test"
    dataset.source = f"{label + ' from ' if label else ''}{folder} ({counts}, {note})"
    return dataset


if __name__ == "__main__":  # python examples/mnist/data.py [DIR]: check and describe a folder
    ds = load_mnist(sys.argv[1] if len(sys.argv) > 1 else None)
    print(ds.source)
    print("train", ds.train_images.shape, "test", ds.test_images.shape,
          "classes", np.bincount(ds.train_labels, minlength=10).tolist())

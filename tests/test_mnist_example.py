"""examples/mnist: the IDX loader and its checksums, the offline fallback to the bundled subset,
the training script end to end on a few hundred digits, eager and jitted updates agreeing, and
the notebook run top to bottom in quick mode. Nothing here touches the network: downloads are
exercised against file:// mirrors."""
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xtrace
from xtrace import random

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "mnist"
sys.path.insert(0, str(EXAMPLE))

import data as mnist_data  # noqa: E402
import model as mnist_model  # noqa: E402
import train as mnist_train  # noqa: E402


@pytest.fixture
def offline_env(monkeypatch, tmp_path):
    """No downloads, and an empty cache folder: the example must use the bundled subset."""
    monkeypatch.setenv("XTRACE_MNIST_OFFLINE", "1")
    monkeypatch.setenv("XTRACE_MNIST_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    """An IDX file built by hand: 0, 0, type, rank, big-endian int32 dims, big-endian data."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_folder(folder: Path, n_train=6, n_test=4, compress=True, seed=0) -> dict:
    """Four small MNIST-named IDX files in ``folder``; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
              "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8)}
    folder.mkdir(parents=True, exist_ok=True)
    for role, array in arrays.items():
        raw = idx_bytes(array, 0x08)
        name = mnist_data.FILES[role] + (".gz" if compress else "")
        (folder / name).write_bytes(gzip.compress(raw) if compress else raw)
    return arrays


# --- the IDX reader -------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
                                        (np.int32, 0x0C), (np.float32, 0x0D), (np.float64, 0x0E)])
def test_parse_idx_hand_built(compress, dtype, code):
    array = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        array = np.arange(30, dtype=np.uint8).reshape(2, 3, 5) * 8
    raw = idx_bytes(array, code)
    out = mnist_data.parse_idx(gzip.compress(raw) if compress else raw)
    assert out.dtype == np.dtype(dtype) and out.shape == (2, 3, 5)
    np.testing.assert_array_equal(out, array)


def test_parse_idx_rejects_bad_files():
    good = idx_bytes(np.zeros((2, 3), np.uint8), 0x08)
    with pytest.raises(ValueError, match="not an IDX file"):
        mnist_data.parse_idx(b"\x01\x02\x08\x02" + good[4:], "bad-magic")
    with pytest.raises(ValueError, match="needs 6 bytes of data, the file has 5"):
        mnist_data.parse_idx(good[:-1], "short")


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_read_folder_scales_and_flattens(tmp_path, compress):
    arrays = write_folder(tmp_path, compress=compress)
    ds = mnist_data.load_mnist(tmp_path, verify_data_dir=False, log=lambda m: None)
    assert ds.train_images.shape == (6, 784) and ds.train_images.dtype == np.float32
    np.testing.assert_allclose(ds.train_images, arrays["train_images"].reshape(6, 784) / 255.0)
    np.testing.assert_array_equal(ds.test_labels, arrays["test_labels"])
    assert ds.test_labels.dtype == np.int32 and ds.test_images.shape == (4, 784)


def test_read_folder_missing_file(tmp_path):
    write_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist_data.load_mnist(tmp_path)


# --- checksums ------------------------------------------------------------------------------

def test_bundled_subset_checksums():
    for name, want in mnist_data.SUBSET_SHA256.items():
        if name.endswith(".gz"):
            assert mnist_data.sha256(EXAMPLE / "mnist-subset" / name) == want
    paths = mnist_data.find_files(EXAMPLE / "mnist-subset").values()
    assert mnist_data.describe_checksums(paths) == "the bundled subset"


def test_checksum_mismatch_in_cache_is_a_clear_error(tmp_path):
    # A cache whose archives are not the published ones (here: hand-made files).
    write_folder(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"truncated"))
    with pytest.raises(mnist_data.ChecksumError) as e:
        mnist_data.load_mnist(cache=tmp_path, offline=True, log=lambda m: None)
    msg = str(e.value)
    assert "checksum mismatch" in msg and "train-images-idx3-ubyte.gz" in msg
    assert mnist_data.FULL_SHA256["train-images-idx3-ubyte.gz"] in msg and "Delete it" in msg


def test_data_dir_checksum_mismatch_and_no_verify(tmp_path):
    write_folder(tmp_path)
    with pytest.raises(mnist_data.ChecksumError, match="--no-verify"):
        mnist_data.load_mnist(tmp_path)
    ds = mnist_data.load_mnist(tmp_path, verify_data_dir=False)
    assert "not checked" in ds.source and len(ds.train_labels) == 6


def test_data_dir_with_the_subset_is_verified(tmp_path):
    for name in mnist_data.SUBSET_SHA256:
        if name.endswith(".gz"):
            (tmp_path / name).write_bytes((EXAMPLE / "mnist-subset" / name).read_bytes())
    ds = mnist_data.load_mnist(tmp_path)
    assert "the bundled subset" in ds.source and "checksums verified" in ds.source


def test_data_dir_uncompressed(tmp_path):
    # Decompressed files are verified too: hand-made ones are refused unless --no-verify.
    write_folder(tmp_path / "other", compress=False)
    with pytest.raises(mnist_data.ChecksumError, match="gzip or decompressed.*--no-verify"):
        mnist_data.load_mnist(tmp_path / "other")
    ds = mnist_data.load_mnist(tmp_path / "other", verify_data_dir=False)
    assert "not checked" in ds.source and len(ds.test_labels) == 4
    (tmp_path / "subset").mkdir()
    for stem in mnist_data.FILES.values():  # the subset decompressed: its raw checksums match
        archive = (EXAMPLE / "mnist-subset" / (stem + ".gz")).read_bytes()
        (tmp_path / "subset" / stem.replace("-idx", ".idx")).write_bytes(gzip.decompress(archive))
    ds = mnist_data.load_mnist(tmp_path / "subset")  # also under the "name.idx3-ubyte" spelling
    assert ds.source.startswith("the bundled subset") and "checksums verified" in ds.source


def test_full_mnist_checksums_cover_both_forms():
    stems = set(mnist_data.FILES.values())
    assert set(mnist_data.FULL_RAW_SHA256) == stems
    assert set(mnist_data.FULL_SHA256) == {s + ".gz" for s in stems}


def test_cache_with_decompressed_files(tmp_path, monkeypatch):
    """A cache holding the four files decompressed is used as is (no download) and verified."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for stem in mnist_data.FILES.values():
        archive = (EXAMPLE / "mnist-subset" / (stem + ".gz")).read_bytes()
        (cache / stem).write_bytes(gzip.decompress(archive))
    with pytest.raises(mnist_data.ChecksumError, match="Delete it"):  # not full MNIST's bytes
        mnist_data.load_mnist(cache=cache, mirrors=[], log=lambda m: None)
    # With the table pointing at these bytes, the same folder is read, nothing fetched.
    raw = {k: v for k, v in mnist_data.SUBSET_SHA256.items() if not k.endswith(".gz")}
    monkeypatch.setattr(mnist_data, "FULL_RAW_SHA256", raw)
    log = []
    ds = mnist_data.load_mnist(cache=cache, mirrors=[], log=log.append)
    assert ds.source.startswith("full MNIST from") and len(ds.train_labels) == 8000
    assert not any("download" in m for m in log), log


# --- cache, mirrors and the offline fallback ------------------------------------------------

def test_offline_falls_back_to_the_bundled_subset(offline_env):
    messages = []
    ds = mnist_data.load_mnist(log=messages.append)  # offline from XTRACE_MNIST_OFFLINE=1
    assert any("bundled" in m and "offline" in m for m in messages), messages
    assert ds.source.startswith("bundled MNIST subset")
    assert ds.train_images.shape == (8000, 784) and ds.test_images.shape == (2000, 784)
    assert 0.0 <= ds.train_images.min() and ds.train_images.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(np.concatenate([ds.train_labels, ds.test_labels])),
                                  [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])
    assert not (offline_env / "empty-cache").exists()  # offline: nothing created, nothing fetched


def test_download_tries_mirrors_and_verifies(tmp_path):
    """file:// mirrors stand in for the public ones: a dead mirror is skipped, a corrupt copy
    is refused and never lands in the cache, a good one is kept."""
    subset = {k: v for k, v in mnist_data.SUBSET_SHA256.items() if k.endswith(".gz")}
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in subset:
        (corrupt / name).write_bytes(b"not the file")
    good = (EXAMPLE / "mnist-subset").as_uri() + "/"
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match="checksum mismatch") as e:
        mnist_data.download(cache, [corrupt.as_uri() + "/"], subset, log=lambda m: None)
    assert "could not download" in str(e.value) and not list(cache.iterdir())
    log = []
    mnist_data.download(cache, [(tmp_path / "dead").as_uri() + "/", corrupt.as_uri() + "/", good],
                        subset, log=log.append)
    assert sorted(p.name for p in cache.iterdir()) == sorted(subset)
    assert len(log) == 3 * len(subset)  # each file: dead, corrupt, then the good mirror
    mnist_data.download(cache, [corrupt.as_uri() + "/"], subset)  # all cached: no fetch at all


def test_failed_download_says_so_and_falls_back(tmp_path, monkeypatch):
    monkeypatch.delenv("XTRACE_MNIST_OFFLINE", raising=False)
    messages = []
    nowhere = (tmp_path / "none").as_uri() + "/"
    ds = mnist_data.load_mnist(cache=tmp_path / "cache", mirrors=[nowhere], log=messages.append)
    text = "\n".join(messages)
    assert "MNIST download failed" in text and "--data DIR" in text and "bundled" in text
    assert ds.source.startswith("bundled MNIST subset")


# --- the network and the training script ----------------------------------------------------

def test_jit_and_eager_updates_agree():
    ds = mnist_data.read_folder(mnist_data.SUBSET_DIR)
    x, y = ds.train_images[:64], mnist_model.one_hot(ds.train_labels[:64])  # the default batch
    params = mnist_model.init_network_params(mnist_model.LAYER_SIZES, random.key(0))
    eager, eager_loss = mnist_model.update(params, x, y, 0.3)
    jitted, jit_loss = xtrace.jit(mnist_model.update)(params, x, y, 0.3)
    np.testing.assert_allclose(float(jit_loss), float(eager_loss), rtol=1e-5)
    for (we, be), (wj, bj), (w0, _) in zip(eager, jitted, params):
        assert not np.array_equal(np.asarray(we), np.asarray(w0))  # the step did move them
        np.testing.assert_allclose(np.asarray(wj), np.asarray(we), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(bj), np.asarray(be), rtol=1e-5, atol=1e-6)


def test_predict_handles_one_image_and_vmap_a_batch():
    params = mnist_model.init_network_params(mnist_model.LAYER_SIZES, random.key(1))
    images = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    batched = np.asarray(mnist_model.batched_predict(params, images))
    assert batched.shape == (5, 10)
    np.testing.assert_allclose(np.exp(batched).sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(mnist_model.predict(params, images[2])), batched[2],
                               rtol=1e-5, atol=1e-5)


def test_training_loss_falls_and_runs_reproduce(offline_env, capsys):
    argv = ["--limit", "512", "--epochs", "1", "--eager-steps", "3", "--seed", "3"]
    first = mnist_train.main(argv)
    out = capsys.readouterr().out
    losses = first["jit"]["step_losses"]
    assert len(losses) == 8 and np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    assert "bundled MNIST subset" in out and "jit    epoch  1/1" in out and "faster per step" in out
    assert first["eager"]["steps"] == 3 and first["speedup"] > 0
    # The eager pass ran the jit run's first three batches from the same start.
    again = mnist_train.main(argv + ["--no-eager"])
    assert again["eager"] is None
    for key in ("loss", "train_acc", "test_acc"):
        assert again["jit"]["epochs"][-1][key] == first["jit"]["epochs"][-1][key]
    assert again["jit"]["step_losses"] == losses


def test_plot_without_matplotlib_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if absent
    run = {"epochs": [dict(epoch=1, loss=1.0, train_acc=0.5, test_acc=0.5)], "step_losses": [1.0]}
    assert mnist_train.save_plot(str(tmp_path / "curves.png"), run, 1) is False
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "curves.png").exists()


def test_script_runs_from_the_repository_root(offline_env):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "examples/mnist/train.py", "--limit", "256", "--epochs", "1",
         "--no-eager", "--plot", str(offline_env / "curves.png")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "using the 10,000-digit MNIST subset" in proc.stdout
    assert "final test accuracy" in proc.stdout
    assert "\r" not in proc.stdout  # no progress bar when stdout is not a terminal
    assert ("plot written to" in proc.stdout) == (offline_env / "curves.png").exists()


def test_notebook_runs_in_quick_mode(offline_env, monkeypatch, capsys):
    notebook = json.loads((EXAMPLE / "mnist.ipynb").read_text())
    assert notebook["nbformat"] == 4
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert "install" in cells[0]["metadata"]["tags"]  # the pip cell, skipped here
    monkeypatch.setenv("XTRACE_MNIST_QUICK", "1")
    monkeypatch.chdir(EXAMPLE)
    namespace = {"__name__": "__main__"}
    for i, cell in enumerate(cells[1:], 1):
        exec(compile("".join(cell["source"]), f"mnist.ipynb[code cell {i}]", "exec"), namespace)
    out = capsys.readouterr().out
    assert "backend: cpu" in out and "Epoch 1 in" in out and "faster than without jit" in out
    assert len(namespace["history"]) == 1 and namespace["train_images"].shape == (512, 784)


@pytest.mark.parametrize("where", ["checkout", "spec", "elsewhere"])
def test_notebook_install_cell(where, tmp_path, monkeypatch):
    """The pip cell as a fresh kernel without xtrace runs it: inside a checkout it installs
    that checkout, elsewhere $XTRACE_PIP_SPEC, and never the unrelated PyPI 'xtrace'."""
    import importlib.util
    import subprocess as sp
    cell = [c for c in json.loads((EXAMPLE / "mnist.ipynb").read_text())["cells"]
            if c["cell_type"] == "code"][0]
    calls = []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setattr(sp, "check_call", lambda argv, **kw: calls.append(argv[3:]))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(EXAMPLE if where == "checkout" else tmp_path)
    monkeypatch.delenv("XTRACE_PIP_SPEC", raising=False)
    if where == "spec":
        monkeypatch.setenv("XTRACE_PIP_SPEC", "/wheels/xtrace-0.1.0-py3-none-any.whl")
    code = compile("".join(cell["source"]), "mnist.ipynb[install cell]", "exec")
    if where == "elsewhere":
        with pytest.raises(RuntimeError, match="not inside a checkout.*XTRACE_PIP_SPEC"):
            exec(code, {"__name__": "__main__"})
        assert calls == []
        return
    exec(code, {"__name__": "__main__"})
    expected = (["install", "-q", "-e", str(REPO)] if where == "checkout"
                else ["install", "-q", "/wheels/xtrace-0.1.0-py3-none-any.whl"])
    assert calls == [expected]


def test_data_parallel_matches_single_device(offline_env, capsys):
    # pmap over 4 CPU devices (conftest) with pmean of gradients follows the single-device
    # run on the same global batches: the same parameters up to float rounding.
    import data_parallel
    argv = ["--limit", "512", "--epochs", "1", "--batch-size", "64", "--seed", "1"]
    par = data_parallel.main(argv + ["--devices", "4"])
    single = mnist_train.main(argv + ["--no-eager"])
    assert par["devices"] == 4
    for (wp, bp), (ws, bs) in zip(par["params"], single["jit"]["params"]):
        np.testing.assert_allclose(np.asarray(wp), np.asarray(ws), rtol=1e-4, atol=2e-5)
        np.testing.assert_allclose(np.asarray(bp), np.asarray(bs), rtol=1e-4, atol=2e-5)
    assert abs(par["epochs"][-1]["test_acc"] - single["jit"]["epochs"][-1]["test_acc"]) < 0.01

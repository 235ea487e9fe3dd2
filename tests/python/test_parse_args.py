"""training/app.py's argument bounds, in-process: each bound at, just inside and just outside it. A value outside is a
usage error (SystemExit 2) naming the flag, the rule and the value. Importing app.py loads numpy and data.py only (keras
and TensorFlow are imported inside the functions that build and train), so this takes milliseconds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT

# Imported as `training.app`, the name mutmut 3 gives the module's mutants (its path from the project root): its
# trampolines switch a mutant on only in a module of that name. app.py's own `from data import ...` finds
# training/data.py through the conftest's sys.path entry.
sys.path.insert(0, str(ROOT))
from training import app

INTEGER_FLAGS = ["--epochs", "--batch-size", "--train-limit"]
FRACTION_FLAGS = ["--learning-rate", "--dropout"]


@pytest.mark.parametrize("flag", INTEGER_FLAGS)
@pytest.mark.parametrize("value", ["1", "2", "1000"])
def test_integer_at_and_inside_the_bound(flag, value):
    args = app.parse_args([flag, value])
    assert getattr(args, flag[2:].replace("-", "_")) == int(value)


@pytest.mark.parametrize("flag", INTEGER_FLAGS)
@pytest.mark.parametrize("value", ["0", "-1"])
def test_integer_below_the_bound_is_a_usage_error(flag, value, capsys):
    with pytest.raises(SystemExit) as info:
        app.parse_args([flag, value])
    assert info.value.code == 2
    assert f"error: {flag} must be >= 1, got {value}" in capsys.readouterr().err


@pytest.mark.parametrize("flag", FRACTION_FLAGS)
@pytest.mark.parametrize("value", ["1e-9", "0.001", "0.5", "0.999", "0.999999999"])
def test_fraction_inside_the_bounds(flag, value):
    args = app.parse_args([flag, value])
    assert getattr(args, flag[2:].replace("-", "_")) == float(value)


@pytest.mark.parametrize("flag", FRACTION_FLAGS)
@pytest.mark.parametrize("value", ["0", "1", "-0.1", "1.5", "nan", "inf"])
def test_fraction_at_or_outside_the_bounds_is_a_usage_error(flag, value, capsys):
    with pytest.raises(SystemExit) as info:
        app.parse_args([flag, value])
    assert info.value.code == 2
    assert f"error: {flag} must be in (0, 1), got {float(value)}" in capsys.readouterr().err


def test_each_flag_is_checked_on_its_own(capsys):
    """A bad value is reported for its own flag even when the others before it are fine."""
    with pytest.raises(SystemExit):
        app.parse_args(["--epochs", "3", "--batch-size", "64", "--train-limit", "0"])
    assert "error: --train-limit must be >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        app.parse_args(["--learning-rate", "0.01", "--dropout", "1"])
    assert "error: --dropout must be in (0, 1), got 1.0" in capsys.readouterr().err


def test_defaults():
    args = app.parse_args([])
    assert (args.epochs, args.batch_size, args.learning_rate, args.seed) == (15, 128, 3e-3, 42)
    assert args.dropout == app.Hyperparameters.dropout and 0 < args.dropout < 1
    assert args.train_limit is None and args.data is None
    assert args.output_dir == Path("outputs")


def test_values_are_typed():
    args = app.parse_args(["--data", "d/mnist.npz", "--output-dir", "o", "--seed", "7", "--learning-rate", "0.01"])
    assert args.data == Path("d/mnist.npz") and args.output_dir == Path("o") and args.seed == 7
    assert args.learning_rate == 0.01
    with pytest.raises(SystemExit) as info:
        app.parse_args(["--epochs", "1.5"])
    assert info.value.code == 2

"""training/app.py's local MLflow tracking: a SQLite store (MLflow 3's default backend, as npm run local uses it),
distinct run names for seeded runs, the sweep's primary metric, and the --dropout flag."""

from __future__ import annotations

import json
import os

import pytest

import app as app_module  # training/ is on sys.path (conftest)
from conftest import run_app


@pytest.fixture()
def app(monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_NAME", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME",
                 "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    return app_module


@pytest.mark.slow
def test_two_seeded_runs_into_one_sqlite_store(tmp_path, data_dir):
    """Same seed twice: keras.utils.set_random_seed seeds Python's random before the run starts, so MLflow's random
    names would repeat; app.py names them itself. Both runs are queryable, with val_accuracy per epoch."""
    db = tmp_path / "state" / "mlflow.db"  # the folder does not exist yet: app.py creates it
    uri = f"sqlite:///{db}"
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_RUN_NAME": "", "MLFLOW_RUN_ID": ""}
    outs = [tmp_path / "a", tmp_path / "b"]
    for out, dropout in zip(outs, ("0.5", "0.3")):
        proc = run_app("--data", str(data_dir / "tiny.npz"), "--output-dir", str(out), "--epochs", "2",
                       "--train-limit", "200", "--batch-size", "50", "--seed", "7", "--dropout", dropout, env=env)
        assert proc.returncode == 0, proc.stderr
    assert db.is_file()

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("mnist-cnn")
    assert experiment.artifact_location == (db.parent / "mlartifacts").as_uri()  # not ./mlruns of the working folder
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    names = [r.info.run_name for r in runs]
    assert len(runs) == 2 and len(set(names)) == 2, names
    assert all(n.startswith("seed7-") for n in names), names
    for run, out, dropout in zip(runs, outs, (0.5, 0.3)):
        assert run.info.status == "FINISHED"
        meta = json.loads((out / "model_meta.json").read_text())
        assert meta["mlflow_run_id"] == run.info.run_id
        assert meta["hyperparameters"]["dropout"] == dropout and run.data.params["dropout"] == str(dropout)
        # the sweep's primary metric, under exactly this name, once per epoch; metrics.json's last row has its value
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [m.step for m in history] == [0, 1]
        last = json.loads((out / "metrics.json").read_text())["epochs"][-1]
        assert last["val_accuracy"] == pytest.approx(run.data.metrics["val_accuracy"]) == pytest.approx(
            history[-1].value)


def test_run_names(app, monkeypatch):
    hp = app.Hyperparameters(epochs=1, batch_size=8, learning_rate=0.01, seed=3, train_limit=None)
    name = app.run_name(hp)
    assert name.startswith("seed3-") and name.endswith(f"-{os.getpid()}")
    monkeypatch.setenv("MLFLOW_RUN_ID", "job-1")  # a run the service started (Azure ML) keeps its name
    assert app.run_name(hp) is None
    monkeypatch.setenv("MLFLOW_RUN_NAME", "trial-2")  # the local sweep names its trials
    assert app.run_name(hp) == "trial-2"


def test_experiment_from_the_environment_gets_its_artifacts_beside_the_database(app, monkeypatch, tmp_path):
    db = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "mnist-cnn-sweep-x")
    mlflow = app.setup_mlflow()
    experiment = mlflow.get_experiment_by_name("mnist-cnn-sweep-x")
    assert experiment.artifact_location == (tmp_path / "mlartifacts").as_uri()
    assert app.setup_mlflow() is mlflow  # the second time finds it


def test_local_default_is_the_sqlite_store_of_the_state_folder(app):
    assert app.LOCAL_STORE == app.PROJECT_ROOT / ".local" / "mlflow.db"
    assert app.sqlite_path(f"sqlite:///{app.LOCAL_STORE}") == app.LOCAL_STORE
    assert app.sqlite_path("file:///x/mlruns") is None


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1", "nan"])
def test_dropout_out_of_range_is_a_usage_error(app, value, capsys):
    with pytest.raises(SystemExit) as exit:
        app.parse_args(["--dropout", value])
    assert exit.value.code == 2 and f"--dropout must be in (0, 1), got {float(value)}" in capsys.readouterr().err


def test_dropout_usage_error_from_the_command_line():
    proc = run_app("--dropout", "1", timeout=60)
    assert proc.returncode == 2 and "--dropout must be in (0, 1), got 1.0" in proc.stderr, proc.stderr


def test_dropout_default_is_the_hyperparameters(app):
    assert app.parse_args([]).dropout == app.Hyperparameters.dropout == 0.5
    assert app.Hyperparameters.from_args(app.parse_args(["--dropout", "0.25"])).dropout == 0.25

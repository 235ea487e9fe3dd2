"""Cloud environments run what the tests run: the conda specs carry the pins of the requirement files."""

from __future__ import annotations

import re
import sys

import yaml

from conftest import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)$")
# The GPU training environment installs TensorFlow's GPU build where the tests install the CPU build.
GPU_NAMES = {"tensorflow-cpu": "tensorflow"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str], where: str) -> dict[str, tuple[str, str]]:
    """{normalized name: (version, extras)}; every entry must be pinned with ==."""
    out = {}
    for line in lines:
        match = PIN.match(line.strip())
        assert match, f"{where}: not an exact pin: {line!r}"
        out[normalized(match.group(1))] = (match.group(3), match.group(2) or "")
    return out


def requirements(path: str) -> dict[str, tuple[str, str]]:
    lines = [ln.split("#")[0].strip() for ln in (ROOT / path).read_text().splitlines()]
    return pins([ln for ln in lines if ln], path)


def conda_spec(path: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The python version and the pip pins of a conda environment file."""
    deps = yaml.safe_load((ROOT / path).read_text())["dependencies"]
    python = next(d.split("=", 1)[1] for d in deps if isinstance(d, str) and d.startswith("python="))
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    return python, pins(pip, path)


def test_the_test_interpreter_is_the_cloud_python():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for spec in ("environments/training-gpu.yml", "scoring/environment.yml"):
        assert conda_spec(spec)[0] == version, spec


def test_training_gpu_environment_has_every_training_pin():
    _, env = conda_spec("environments/training-gpu.yml")
    for name, (version, _) in requirements("training/requirements.txt").items():
        gpu_name = GPU_NAMES.get(name, name)
        assert gpu_name in env, f"environments/training-gpu.yml lacks {gpu_name} (training/requirements.txt: {name})"
        assert env[gpu_name][0] == version, f"{gpu_name}: {env[gpu_name][0]} in the GPU environment, {version} in tests"
    assert env["tensorflow"][1] == "[and-cuda]"  # TensorFlow's GPU build with NVIDIA's CUDA/cuDNN wheels
    assert "tensorflow-cpu" not in env


def test_training_gpu_environment_can_log_to_azure_ml():
    """app.py logs through MLflow; inside an Azure ML job that takes the azureml-mlflow plugin."""
    _, env = conda_spec("environments/training-gpu.yml")
    assert {"mlflow-skinny", "azureml-mlflow"} <= set(env)


def test_inference_environment_has_exactly_the_scoring_pins():
    assert conda_spec("scoring/environment.yml")[1] == requirements("scoring/requirements.txt")

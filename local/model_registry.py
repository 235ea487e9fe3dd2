"""The local model registry: MLflow's Model Registry in the local SQLite store (MLFLOW_TRACKING_URI, set by
local/registry.ts to sqlite:///<state>/mlflow.db), used by npm run local, npm run serve and download-model.

    python local/model_registry.py register --name mnist-cnn --run-id RUN [--alias champion] [--tag KEY=VALUE ...]
        registers runs:/RUN/model (the MLflow model training/app.py logged) as the next version, tags it, aliases it
    python local/model_registry.py import --name mnist-cnn --dir DIR --run-name NAME [--tag KEY=VALUE ...]
        a model folder from elsewhere (a cloud model version): logged as the artifacts of a run of the experiment
        "downloads", at model/, and registered from there
    python local/model_registry.py resolve --name mnist-cnn [--alias champion | --version N]
        models:/<name>@<alias> (or /<version>): the version, its tags and aliases, and the local folder of its files

Each prints one line `RESULT {...}` (the version: name, version, source, run_id, aliases, tags, created_at, dir,
files) and exits 0; a missing model, version or alias: exit 3 and `RESULT {"error": "...", "versions": [...]}`.
MLflow's registry in the SQLite store has aliases (set_registered_model_alias, models:/<name>@champion).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

NOT_FOUND = 3
MODEL_PATH = "model"  # training/app.py's MLFLOW_MODEL_PATH: runs:/<run_id>/model
DOWNLOADS_EXPERIMENT = "downloads"


def local_path(uri: str) -> Path | None:
    """The folder of a file:// artifact URI (or a plain path); None for a remote store."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path))
    return None


def files_below(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def describe(client, version) -> dict:
    """What the TypeScript side reads of a version (local/registry.ts RegisteredVersion)."""
    import mlflow

    folder = local_path(client.get_model_version_download_uri(version.name, version.version))
    if folder is None or not folder.is_dir():  # e.g. another artifact store: a local copy
        folder = Path(mlflow.artifacts.download_artifacts(f"models:/{version.name}/{version.version}"))
    return {
        "name": version.name,
        "version": str(version.version),
        "source": version.source,
        "run_id": version.run_id,
        "aliases": sorted(version.aliases),
        "tags": dict(version.tags),
        "created_at": version.creation_timestamp,
        "dir": str(folder),
        "files": files_below(folder),
    }


def parse_tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"model_registry.py: --tag {pair!r}: expected KEY=VALUE")
        tags[key] = value
    return tags


def ensure_model(client, name: str) -> None:
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):  # RESOURCE_ALREADY_EXISTS: the next version goes into it
        client.create_registered_model(name)


def register(client, args) -> dict:
    """runs:/<run>/model as the next version. register_model takes the run's artifact folder as the version's source
    (it holds an MLmodel: training/app.py logged it with log_artifacts, not log_model, see log_mlflow_model), so the
    version leads to its run and its files."""
    import mlflow

    version = mlflow.register_model(f"runs:/{args.run_id}/{MODEL_PATH}", args.name, tags=parse_tags(args.tag))
    for alias in args.alias:
        client.set_registered_model_alias(args.name, alias, version.version)
    return describe(client, client.get_model_version(args.name, version.version))


def import_folder(client, args) -> dict:
    """A folder without an MLmodel (a cloud model version is training's output folder): logged to a run of
    `downloads` at model/, and registered with that run's artifact folder as its source."""
    import mlflow

    folder = Path(args.dir)
    if not folder.is_dir() or not any(folder.iterdir()):
        raise SystemExit(f"model_registry.py: --dir {folder}: no files to import")
    experiment = mlflow.get_experiment_by_name(DOWNLOADS_EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        DOWNLOADS_EXPERIMENT, artifact_location=artifact_root())
    tags = parse_tags(args.tag)
    with mlflow.start_run(experiment_id=experiment_id, run_name=args.run_name, tags=tags) as run:
        mlflow.log_artifacts(str(folder), artifact_path=MODEL_PATH)
        source = mlflow.get_artifact_uri(MODEL_PATH)
    ensure_model(client, args.name)
    version = client.create_model_version(args.name, source, run_id=run.info.run_id, tags=tags)
    for alias in args.alias:
        client.set_registered_model_alias(args.name, alias, version.version)
    return describe(client, client.get_model_version(args.name, version.version))


def artifact_root() -> str | None:
    """Artifacts beside a SQLite database, in <its folder>/mlartifacts, as training/app.py keeps them."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
    return None


class NotFound(LookupError):
    def __init__(self, message: str, versions: list[dict]):
        super().__init__(message)
        self.versions = versions


def resolve(client, args) -> dict:
    """models:/<name>@<alias>, or models:/<name>/<version> with --version."""
    from mlflow.exceptions import MlflowException

    try:
        version = (client.get_model_version(args.name, args.version) if args.version
                   else client.get_model_version_by_alias(args.name, args.alias))
    except MlflowException:
        try:  # the versions there are, with their aliases (search_model_versions leaves aliases out)
            known = [str(v.version) for v in client.search_model_versions(f"name = '{args.name}'")]
            aliases = client.get_registered_model(args.name).aliases
        except MlflowException:
            known, aliases = [], {}
        versions = [{"version": v, "aliases": sorted(a for a, n in aliases.items() if str(n) == v)}
                    for v in sorted(known, key=int)]
        wanted = f"version {args.version}" if args.version else f"alias @{args.alias}"
        raise NotFound(f"no {wanted} of registered model {args.name}", versions) from None
    return describe(client, version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The local MLflow Model Registry (npm run local / serve).")
    commands = parser.add_subparsers(dest="command", required=True)
    reg = commands.add_parser("register", help="register runs:/RUN/model")
    reg.add_argument("--run-id", required=True)
    imp = commands.add_parser("import", help="register a model folder through a run of the downloads experiment")
    imp.add_argument("--dir", required=True)
    imp.add_argument("--run-name", required=True)
    for sub in (reg, imp):
        sub.add_argument("--name", required=True)
        sub.add_argument("--alias", action="append", default=[], help="set this alias on the new version")
        sub.add_argument("--tag", action="append", default=[], help="KEY=VALUE, repeatable")
    res = commands.add_parser("resolve", help="models:/NAME@ALIAS or models:/NAME/VERSION")
    res.add_argument("--name", required=True)
    which = res.add_mutually_exclusive_group()
    which.add_argument("--alias", default="champion")
    which.add_argument("--version")
    args = parser.parse_args(argv)

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        parser.error("MLFLOW_TRACKING_URI is not set (local/registry.ts sets it to the local SQLite store)")
    uri = os.environ["MLFLOW_TRACKING_URI"]
    db = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if args.command == "resolve" and db is not None and not db.exists():  # don't create an empty store to look in
        print("RESULT " + json.dumps({"error": f"no MLflow store at {db}", "versions": []}), flush=True)
        return NOT_FOUND
    from mlflow import MlflowClient

    client = MlflowClient()
    try:
        result = {"register": register, "import": import_folder, "resolve": resolve}[args.command](client, args)
    except NotFound as ex:
        print("RESULT " + json.dumps({"error": str(ex), "versions": ex.versions}), flush=True)
        return NOT_FOUND
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

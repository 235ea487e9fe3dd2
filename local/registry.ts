/**
 * The local model registry: MLflow's Model Registry in the local SQLite store (<state>/mlflow.db, the store the local
 * training runs log to; paths.ts mlflowStoreUri). A version's source is the MLflow model that training/app.py logged
 * to its run (runs:/<run_id>/model: the Keras model, its ONNX copy, signature, input example), so a version leads to
 * its run and the run to its model. `npm run local` registers a run's model once it passed the local gate and sets
 * the alias `champion` on it; `npm run serve` serves models:/<name>@champion (or a version); download-model imports a
 * cloud model version into the same registry. MLflow itself does the work, through local/model_registry.py (the venv's
 * mlflow-skinny with SQLAlchemy): this module only calls it and reads its RESULT line.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { ROOT } from "./paths";
import { runStreaming } from "./proc";

/** The alias npm run local sets on a version that passed the gate, and npm run serve serves. */
export const CHAMPION = "champion";
const HELPER = path.join(ROOT, "local", "model_registry.py");
/** model_registry.py's exit code for a missing model, version or alias. */
const NOT_FOUND = 3;

/** One model version of the MLflow registry, as model_registry.py describes it. */
export interface RegisteredVersion {
  name: string;
  /** MLflow's version number, as a string ("1", "2", ...) */
  version: string;
  /** where its files are: the run's artifact folder (file:///.../mlartifacts/<run>/artifacts/model) */
  source: string;
  runId: string | null;
  aliases: string[];
  tags: Record<string, string>;
  /** ISO 8601 */
  createdAt: string;
  /** the local folder of its files: what azmlinfsrv gets as AZUREML_MODEL_DIR */
  dir: string;
  /** relative, "/"-separated, sorted */
  files: string[];
}

/** A missing model, version or alias; `versions` are those there are. */
export class ModelNotFound extends Error {
  constructor(
    message: string,
    readonly versions: { version: string; aliases: string[] }[],
  ) {
    super(message);
  }
}

/** Model names go into URIs (models:/<name>@champion) and folder names: keep them to a safe alphabet. */
export function assertSafeName(kind: string, value: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(value) || value === "." || value === "..") {
    throw new Error(`invalid ${kind} '${value}': use letters, digits, '.', '_' and '-'`);
  }
}

/** models:/<name>@<alias> or models:/<name>/<version>. Pure. */
export function modelUri(name: string, ref: { alias?: string; version?: string }): string {
  return ref.version ? `models:/${name}/${ref.version}` : `models:/${name}@${ref.alias ?? CHAMPION}`;
}

/** "3 (@champion), 2, 1" or "none". Pure. */
export function describeVersions(versions: { version: string; aliases: string[] }[]): string {
  if (versions.length === 0) return "none";
  return [...versions]
    .reverse()
    .map((v) => `${v.version}${v.aliases.length ? ` (@${v.aliases.join(", @")})` : ""}`)
    .join(", ");
}

/** The project venv's python (scripts/env.sh builds it), else the one on PATH. */
function python(): string {
  const venv = path.join(ROOT, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python";
}

interface HelperOptions {
  /** the store: sqlite:///<state>/mlflow.db */
  trackingUri: string;
  /** where model_registry.py's output goes too (it is also kept for errors) */
  logFile?: string;
}

/** Runs model_registry.py ARGS against the store; its RESULT as a RegisteredVersion. */
async function helper(o: HelperOptions, args: string[]): Promise<RegisteredVersion> {
  const r = await runStreaming(python(), [HELPER, ...args], {
    cwd: ROOT,
    env: { MLFLOW_TRACKING_URI: o.trackingUri, PYTHONDONTWRITEBYTECODE: "1" },
    logFile: o.logFile,
  });
  const res = r.result as Record<string, unknown> | undefined;
  if (r.code === NOT_FOUND && res && typeof res.error === "string") {
    throw new ModelNotFound(res.error, (res.versions as ModelNotFound["versions"]) ?? []);
  }
  if (r.code !== 0 || !res || typeof res.version !== "string") {
    throw new Error(
      `local/model_registry.py ${args[0]} failed (exit ${r.code ?? r.signal}): ${r.tail.slice(-5).join(" | ")}`,
    );
  }
  return {
    name: res.name as string,
    version: res.version,
    source: res.source as string,
    runId: (res.run_id as string | null) ?? null,
    aliases: res.aliases as string[],
    tags: res.tags as Record<string, string>,
    createdAt: new Date(res.created_at as number).toISOString(),
    dir: res.dir as string,
    files: res.files as string[],
  };
}

const tagArgs = (tags: Record<string, string | number | null | undefined>) =>
  Object.entries(tags)
    .filter(([, v]) => v !== undefined && v !== null)
    .flatMap(([k, v]) => ["--tag", `${k}=${v}`]);
const aliasArgs = (aliases: string[] = []) => aliases.flatMap((a) => ["--alias", a]);

export interface RegisterOptions extends HelperOptions {
  name: string;
  /** the MLflow run whose model/ artifacts (training/app.py's MLflow model) become the next version */
  runId: string;
  tags?: Record<string, string | number | null | undefined>;
  /** aliases moved to the new version, e.g. [CHAMPION] */
  aliases?: string[];
}

/** Registers runs:/<runId>/model as the next version of `name`, with its tags and aliases. */
export function registerModel(o: RegisterOptions): Promise<RegisteredVersion> {
  assertSafeName("model name", o.name);
  return helper(o, [
    "register",
    ...["--name", o.name, "--run-id", o.runId],
    ...aliasArgs(o.aliases),
    ...tagArgs(o.tags ?? {}),
  ]);
}

export interface ImportOptions extends HelperOptions {
  name: string;
  /** a model folder (e.g. downloaded from Azure ML) */
  dir: string;
  /** the MLflow run that holds its files (experiment "downloads") */
  runName: string;
  tags?: Record<string, string | number | null | undefined>;
  aliases?: string[];
}

/** A model folder from elsewhere as the next version: logged to a run of the experiment "downloads", registered. */
export function importModel(o: ImportOptions): Promise<RegisteredVersion> {
  assertSafeName("model name", o.name);
  return helper(o, [
    "import",
    ...["--name", o.name, "--dir", o.dir, "--run-name", o.runName],
    ...aliasArgs(o.aliases),
    ...tagArgs(o.tags ?? {}),
  ]);
}

export interface ResolveOptions extends HelperOptions {
  name: string;
  /** a version number; else the alias */
  version?: string;
  /** default: champion */
  alias?: string;
}

/** models:/<name>@<alias> (default champion) or models:/<name>/<version>; ModelNotFound when there is none. */
export function resolveModel(o: ResolveOptions): Promise<RegisteredVersion> {
  assertSafeName("model name", o.name);
  const ref = o.version ? ["--version", o.version] : ["--alias", o.alias ?? CHAMPION];
  return helper(o, ["resolve", "--name", o.name, ...ref]);
}

/**
 * The local model registry: .local/registry/<model-name>/<version>/ holds a model folder's files plus
 * model-version.json ({name, version, createdAt, source: {...}, files: [...]}), mirroring Azure ML model versions.
 * Local versions are 1, 2, 3, ...; versions downloaded from Azure (local/download-model.ts) keep their Azure version string.
 * "Latest" = newest createdAt. All helpers take the registry root explicitly so they work on any folder (tests: tmp).
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";

export const DEFAULT_REGISTRY = path.join(".local", "registry");
export const VERSION_FILE = "model-version.json";

export interface ModelVersion {
  name: string;
  version: string;
  /** ISO 8601. */
  createdAt: string;
  source: Record<string, unknown>;
  /** Paths relative to the version folder (model-version.json excluded), "/"-separated. */
  files: string[];
}

export interface RegisteredVersion extends ModelVersion {
  /** Absolute path of the version folder. */
  dir: string;
}

/** Model and version names become folder names: keep them to a safe alphabet (Azure's is similar). */
export function assertSafeName(kind: string, value: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(value) || value === "." || value === "..") {
    throw new Error(`invalid ${kind} '${value}': use letters, digits, '.', '_' and '-'`);
  }
}

export function modelDir(registry: string, name: string): string {
  assertSafeName("model name", name);
  return path.resolve(registry, name);
}

export function versionDir(registry: string, name: string, version: string): string {
  assertSafeName("model version", version);
  return path.join(modelDir(registry, name), version);
}

/** Names of the models in the registry (folders), sorted. */
export function listModels(registry: string): string[] {
  if (!existsSync(registry)) return [];
  return readdirSync(registry, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** Reads one version's metadata; undefined when the folder has no (valid) model-version.json. */
export function readVersion(dir: string): ModelVersion | undefined {
  const file = path.join(dir, VERSION_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as ModelVersion;
    if (typeof v.version !== "string" || typeof v.createdAt !== "string") return undefined;
    return v;
  } catch {
    return undefined;
  }
}

/** Compares version strings: numerically when both are integers, else as strings (natural order). */
export function compareVersions(a: string, b: string): number {
  const na = /^\d+$/.test(a) ? Number(a) : NaN;
  const nb = /^\d+$/.test(b) ? Number(b) : NaN;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return a.localeCompare(b, undefined, { numeric: true });
}

/** All complete versions (folders with a model-version.json) of a model, oldest createdAt first. */
export function listVersions(registry: string, name: string): RegisteredVersion[] {
  const root = modelDir(registry, name);
  if (!existsSync(root)) return [];
  const out: RegisteredVersion[] = [];
  for (const d of readdirSync(root, { withFileTypes: true })) {
    if (!d.isDirectory() || d.name.startsWith(".")) continue;
    const dir = path.join(root, d.name);
    const meta = readVersion(dir);
    if (meta) out.push({ ...meta, name: meta.name ?? name, version: d.name, dir });
  }
  return sortByCreatedAt(out);
}

/** Sorts by createdAt (ties: version order), oldest first. Pure. */
export function sortByCreatedAt<T extends { createdAt: string; version: string }>(versions: T[]): T[] {
  return [...versions].sort((a, b) => {
    const ta = Date.parse(a.createdAt);
    const tb = Date.parse(b.createdAt);
    const d = (Number.isNaN(ta) ? 0 : ta) - (Number.isNaN(tb) ? 0 : tb);
    return d !== 0 ? d : compareVersions(a.version, b.version);
  });
}

/** The latest version by createdAt, or undefined. Pure. */
export function latestOf<T extends { createdAt: string; version: string }>(versions: T[]): T | undefined {
  const sorted = sortByCreatedAt(versions);
  return sorted[sorted.length - 1];
}

export function latestVersion(registry: string, name: string): RegisteredVersion | undefined {
  return latestOf(listVersions(registry, name));
}

export function getVersion(registry: string, name: string, version: string): RegisteredVersion | undefined {
  return listVersions(registry, name).find((v) => v.version === version);
}

/** Next local version: 1 + the largest integer version among the names given (non-integers ignored). Pure. */
export function nextVersionOf(existing: string[]): string {
  const nums = existing.filter((v) => /^\d+$/.test(v)).map(Number);
  return String(nums.length ? Math.max(...nums) + 1 : 1);
}

/** Next version number, counting every folder (even incomplete ones) so a number is never reused. */
export function nextVersion(registry: string, name: string): string {
  const root = modelDir(registry, name);
  if (!existsSync(root)) return "1";
  const names = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => (d.name.startsWith(".tmp-") ? d.name.slice(5).replace(/-\d+$/, "") : d.name));
  return nextVersionOf(names);
}

/** Files below dir, relative, "/"-separated, sorted. */
export function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    const full = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...listFiles(full, rel));
    else if (d.isFile()) out.push(rel);
  }
  return out.sort();
}

export interface RegisterOptions {
  registry: string;
  name: string;
  /** Folder with the model files (e.g. the training output dir). */
  sourceDir: string;
  /** Defaults to nextVersion(). local/download-model.ts passes the Azure version. */
  version?: string;
  source?: Record<string, unknown>;
  /** Which files of sourceDir to copy (relative paths); default: all. */
  filter?: (relPath: string) => boolean;
  createdAt?: Date;
  /** Replace an existing version folder (default: error). */
  overwrite?: boolean;
}

/**
 * Copies the model files into <registry>/<name>/<version>/ and writes model-version.json. The copy goes to a
 * hidden temp folder first and is renamed into place, so a half-written version is never listed.
 */
export function registerModel(opts: RegisterOptions): RegisteredVersion {
  if (!existsSync(opts.sourceDir) || !statSync(opts.sourceDir).isDirectory()) {
    throw new Error(`model folder not found: ${opts.sourceDir}`);
  }
  const version = opts.version ?? nextVersion(opts.registry, opts.name);
  const dest = versionDir(opts.registry, opts.name, version);
  if (existsSync(dest)) {
    if (!opts.overwrite) throw new Error(`version ${opts.name}:${version} already exists at ${dest}`);
  }
  const files = listFiles(opts.sourceDir).filter(
    (f) => f !== VERSION_FILE && (opts.filter ? opts.filter(f) : true),
  );
  if (files.length === 0) throw new Error(`no model files to register in ${opts.sourceDir}`);
  const tmp = path.join(path.dirname(dest), `.tmp-${version}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const f of files) {
    const to = path.join(tmp, ...f.split("/"));
    mkdirSync(path.dirname(to), { recursive: true });
    copyFileSync(path.join(opts.sourceDir, ...f.split("/")), to);
  }
  const meta: ModelVersion = {
    name: opts.name,
    version,
    createdAt: (opts.createdAt ?? new Date()).toISOString(),
    source: opts.source ?? { dir: path.resolve(opts.sourceDir) },
    files,
  };
  writeFileSync(path.join(tmp, VERSION_FILE), `${JSON.stringify(meta, null, 2)}\n`);
  if (existsSync(dest)) rmSync(dest, { recursive: true, force: true });
  renameSync(tmp, dest);
  return { ...meta, dir: dest };
}

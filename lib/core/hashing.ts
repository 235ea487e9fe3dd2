// Content hashes that name immutable Azure ML objects (code/environment/model versions, jobs, deployments):
// same content → same name (nothing to do), changed content → new name (a new object, never an update).
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Folders and files that are not part of an uploaded asset. */
const EXCLUDED_DIRS = new Set([
  "__pycache__",
  ".pytest_cache",
  ".ipynb_checkpoints",
  "tests",
  "outputs",
  "mlruns",
]);
const EXCLUDED_FILE = /(\.pyc|\.pyo|~)$|^\.DS_Store$/;

/** Relative paths (forward slashes, sorted) of the files in `root` that belong to the asset. */
export function listAssetFiles(root: string): string[] {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new Error(`asset folder ${root} does not exist`);
  }
  const files: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!EXCLUDED_DIRS.has(entry.name) && !entry.name.startsWith("."))
          walk(path.join(dir, entry.name), relPath);
      } else if (entry.isFile() && !EXCLUDED_FILE.test(entry.name)) {
        files.push(relPath);
      }
    }
  };
  walk(root, "");
  // Byte order, not locale order: the hash must not depend on the machine.
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** sha256 over the sorted relative paths and their bytes (length-prefixed, so no two layouts collide). */
export function hashFolder(root: string, files: readonly string[] = listAssetFiles(root)): string {
  const h = crypto.createHash("sha256");
  for (const rel of files) {
    const bytes = fs.readFileSync(path.join(root, rel));
    h.update(`${rel}\0${bytes.length}\0`);
    h.update(bytes);
  }
  return h.digest("hex");
}

/** sha256 of a canonical JSON encoding (object keys sorted), so key order never changes a hash. */
export function hashValues(value: unknown): string {
  return crypto.createHash("sha256").update(canonicalJson(value)).digest("hex");
}

export function canonicalJson(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** A short form for names and versions (Azure names are short; 12 hex digits = 48 bits). */
export function shortHash(hash: string, length = 12): string {
  return hash.slice(0, length);
}

/**
 * The local MLflow store: a SQLite database (MLflow 3's default backend; `mlflowStoreFile` in paths.ts). The file store
 * the local runs used before (<state>/mlruns) is migrated into it once, with MLflow's own `mlflow migrate-filestore`.
 */
import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import type { StreamedRun } from "./proc";

/** Runs `python ARGS...` (streamed and logged by the caller). */
export type PythonRunner = (args: string[]) => Promise<StreamedRun>;

/** A file store with something in it and no database yet: the one case that migrates. */
export function needsMigration(fileStore: string, dbFile: string): boolean {
  return existsSync(fileStore) && !existsSync(dbFile) && readdirSync(fileStore).length > 0;
}

// SQLite's companions of a database file (migrate-filestore writes in WAL mode): they go wherever the file goes.
const SIDE_FILES = ["-wal", "-shm", "-journal"];

function removeDatabase(file: string): void {
  for (const suffix of ["", ...SIDE_FILES]) rmSync(file + suffix, { force: true });
}

/** Renames a database with its side files, the file itself last: when it appears under the new name, it is whole. */
function renameDatabase(from: string, to: string): void {
  for (const suffix of SIDE_FILES) if (existsSync(from + suffix)) renameSync(from + suffix, to + suffix);
  renameSync(from, to);
}

/**
 * `mlflow migrate-filestore --source <fileStore> --target sqlite:///<dbFile>.migrating`, then renamed to dbFile: a
 * failed or interrupted migration leaves no database behind, so the next run tries again (and training does not start
 * a fresh database without the old runs). The runs' artifacts are not copied: their URIs still point into the file
 * store's folder, which stays. Throws with the tool's last lines when it fails.
 */
export async function migrateFileStore(
  fileStore: string,
  dbFile: string,
  python: PythonRunner,
): Promise<void> {
  const partial = `${dbFile}.migrating`;
  removeDatabase(partial);
  const target = `sqlite:///${partial}`;
  const r = await python(["-m", "mlflow", "migrate-filestore", "--source", fileStore, "--target", target]);
  if (r.code !== 0) {
    removeDatabase(partial);
    throw new Error(
      `mlflow migrate-filestore failed (exit ${r.code ?? r.signal}): ${r.tail.slice(-3).join(" | ")}`,
    );
  }
  renameDatabase(partial, dbFile);
}

// How code assets are laid out in the workspace's default datastore, as the Azure ML CLI and SDK lay them out.
// Shared by the graph (CodeAsset) and ops/ensure-code.ts.
import * as path from "path";

/** Blob prefix of an upload: `LocalUpload/<version>/<folder name>`. */
export function uploadPrefix(version: string, folder: string): string {
  return `LocalUpload/${version}/${path.basename(folder)}`;
}

const CONTENT_TYPES: Record<string, string> = {
  ".py": "text/x-python",
  ".json": "application/json",
  ".yml": "application/x-yaml",
  ".yaml": "application/x-yaml",
  ".txt": "text/plain",
  ".md": "text/markdown",
};

/** Content type of an uploaded file (so the studio shows code as text). */
export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream";
}

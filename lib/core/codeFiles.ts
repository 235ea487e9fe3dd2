// How code assets are laid out in the workspace's default datastore, and which files they hold, as the Azure ML CLI
// and SDK do it. Shared by the graph (CodeAsset) and ops/ensure-code.ts.
import * as fs from "fs";
import * as path from "path";
import { listAssetFiles } from "./hashing";

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

// ---------------------------------------------------------------------------------------------------------------
// Ignore files: which files of a code folder are part of the asset
// ---------------------------------------------------------------------------------------------------------------

/**
 * The ignore files of a code folder, first found wins: `.amlignore` takes precedence over `.gitignore`, and only the
 * one in the folder itself counts (azure-ai-ml `_utils/_asset_utils.py` get_ignore_file: ".amlignore takes
 * precedence over .gitignore ... The ignore file must be in the root directory"). Ignore files of enclosing folders
 * (the repository's own .gitignore) do not apply, as with `az ml`. Neither does any built-in rule for `.env` or key
 * files: the Azure ML CLI has none, so secrets stay out of an asset only by being listed in its ignore file.
 */
export const IGNORE_FILES = [".amlignore", ".gitignore"] as const;

/** One line of an ignore file (gitignore syntax, which the Azure ML docs say `.amlignore` uses as well). */
export interface IgnoreRule {
  /** the line as written */
  pattern: string;
  /** `!pattern`: re-includes what an earlier line excluded */
  negate: boolean;
  /** `pattern/`: matches directories only */
  dirOnly: boolean;
  /** over the path relative to the folder, forward slashes */
  re: RegExp;
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A gitignore glob as a regular expression body: `*`, `?`, `[...]`, `**` (git-scm.com/docs/gitignore "PATTERN FORMAT"). */
function globToRegex(glob: string): string {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      const leading = i === 0 || glob[i - 1] === "/";
      if (leading && glob[i + 2] === "/") {
        re += "(?:.*/)?"; // "**/": any number of folders, none included
        i += 2;
      } else if (leading && i + 2 === glob.length) {
        re += ".*"; // trailing "/**": everything inside
        i += 1;
      } else {
        re += "[^/]*"; // any other "**" is an ordinary "*"
        i += 1;
      }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negated = body.startsWith("!") || body.startsWith("^");
      if (negated) body = body.slice(1);
      re += `[${negated ? "^" : ""}${body.replace(/\\/g, "\\\\").replace(/\]/g, "\\]")}]`;
      i = end;
    } else if (c === "\\" && i + 1 < glob.length) {
      re += escapeRe(glob[++i]);
    } else re += escapeRe(c);
  }
  return re;
}

/** The rules of an ignore file's text: comments, blank lines and unescaped trailing spaces dropped. */
export function parseIgnoreFile(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.replace(/(?<!\\) +$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    if (negate) line = line.slice(1);
    const dirOnly = line.endsWith("/");
    if (dirOnly) line = line.replace(/\/+$/, "");
    if (line === "") continue;
    // A slash anywhere but at the end anchors the pattern to the folder; otherwise it matches at any depth.
    const anchored = line.includes("/");
    const glob = line.replace(/^\//, "");
    rules.push({
      pattern: raw.trim(),
      negate,
      dirOnly,
      re: new RegExp(`^${anchored ? "" : "(?:.*/)?"}${globToRegex(glob)}$`),
    });
  }
  return rules;
}

/** Whether `rel` (a file, or a folder when `isDir`) is ignored: the last rule that matches decides, as in git. */
export function isIgnored(rules: readonly IgnoreRule[], rel: string, isDir: boolean): boolean {
  let ignored = false;
  for (const rule of rules) {
    if ((!rule.dirOnly || isDir) && rule.re.test(rel)) ignored = !rule.negate;
  }
  return ignored;
}

/** Whether a file is left out: it is ignored, or a folder above it is (git cannot re-include inside an ignored folder). */
export function isExcluded(rules: readonly IgnoreRule[], rel: string): boolean {
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) {
    if (isIgnored(rules, parts.slice(0, i).join("/"), true)) return true;
  }
  return isIgnored(rules, rel, false);
}

/** The folder's ignore file (`.amlignore`, else `.gitignore`) and its rules, or undefined when it has neither. */
export function ignoreFileOf(folder: string): { file: string; rules: IgnoreRule[] } | undefined {
  for (const name of IGNORE_FILES) {
    const file = path.join(folder, name);
    if (fs.existsSync(file) && fs.statSync(file).isFile())
      return { file: name, rules: parseIgnoreFile(fs.readFileSync(file, "utf8")) };
  }
  return undefined;
}

/**
 * The files of a code asset, relative and sorted: the folder's files (lib/core/hashing.ts listAssetFiles: caches, tests
 * and dot-folders left out) minus what its ignore file excludes. The one list that is both hashed (the version) and
 * uploaded: the graph (components/codeAsset.ts) and ops/ensure-code.ts must both take it from here.
 */
export function listCodeFiles(folder: string): string[] {
  const files = listAssetFiles(folder);
  const ignore = ignoreFileOf(folder);
  return ignore ? files.filter((f) => !isExcluded(ignore.rules, f)) : files;
}

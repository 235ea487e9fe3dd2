// Content hashes of asset folders: a version changes when, and only when, the folder's content changes.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { canonicalJson, hashFolder, hashValues, listAssetFiles } from "../../lib/core/hashing";
import { codeVersionOf } from "../../components/codeAsset";
import { isExcluded, listCodeFiles, parseIgnoreFile, uploadPrefix } from "../../lib/core/codeFiles";
import { environmentVersion } from "../../components/environmentAsset";
import { ROOT } from "./harness";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "graph-hash-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function copyOf(folder: string): string {
  const dest = path.join(tmp, path.basename(folder));
  fs.cpSync(path.join(ROOT, folder), dest, { recursive: true });
  return dest;
}

test.each(["training", "scoring"])(
  "%s/: an unchanged copy has the same version, a changed byte a new one",
  (folder) => {
    const copy = copyOf(folder);
    const version = codeVersionOf(copy);
    expect(version).toBe(codeVersionOf(path.join(ROOT, folder)));
    expect(version).toMatch(/^[0-9a-f]{16}$/);

    const file = path.join(copy, listAssetFiles(copy)[0]);
    const bytes = fs.readFileSync(file);
    bytes[0] = bytes[0] ^ 1;
    fs.writeFileSync(file, bytes);
    const changed = codeVersionOf(copy);
    expect(changed).not.toBe(version);

    bytes[0] = bytes[0] ^ 1;
    fs.writeFileSync(file, bytes);
    expect(codeVersionOf(copy)).toBe(version);
  },
);

test("adding, removing or renaming a file changes the hash; caches, tests and timestamps do not", () => {
  fs.writeFileSync(path.join(tmp, "app.py"), "print(1)\n");
  const base = hashFolder(tmp);

  fs.mkdirSync(path.join(tmp, "__pycache__"));
  fs.writeFileSync(path.join(tmp, "__pycache__", "app.cpython-311.pyc"), "x");
  fs.writeFileSync(path.join(tmp, "stale.pyc"), "x");
  fs.mkdirSync(path.join(tmp, "tests"));
  fs.writeFileSync(path.join(tmp, "tests", "test_app.py"), "x");
  fs.utimesSync(path.join(tmp, "app.py"), new Date(0), new Date(0));
  expect(hashFolder(tmp)).toBe(base);
  expect(listAssetFiles(tmp)).toEqual(["app.py"]);

  fs.writeFileSync(path.join(tmp, "util.py"), "");
  const added = hashFolder(tmp);
  expect(added).not.toBe(base);
  fs.renameSync(path.join(tmp, "util.py"), path.join(tmp, "util2.py"));
  expect(hashFolder(tmp)).not.toBe(added);
  fs.rmSync(path.join(tmp, "util2.py"));
  expect(hashFolder(tmp)).toBe(base);
});

test("moving bytes between files changes the hash (paths and lengths are part of it)", () => {
  fs.writeFileSync(path.join(tmp, "a"), "xy");
  fs.writeFileSync(path.join(tmp, "b"), "");
  const one = hashFolder(tmp);
  fs.writeFileSync(path.join(tmp, "a"), "x");
  fs.writeFileSync(path.join(tmp, "b"), "y");
  expect(hashFolder(tmp)).not.toBe(one);
});

test("upload prefix follows the Azure ML CLI layout", () => {
  expect(uploadPrefix("abc", "/x/training")).toBe("LocalUpload/abc/training");
});

test("inference environment version depends on image and conda text only", () => {
  const v = environmentVersion("img:1", "deps: [a]");
  expect(environmentVersion("img:1", "deps: [a]")).toBe(v);
  expect(environmentVersion("img:2", "deps: [a]")).not.toBe(v);
  expect(environmentVersion("img:1", "deps: [b]")).not.toBe(v);
});

test("value hashes ignore key order and undefined keys", () => {
  expect(hashValues({ a: 1, b: [1, { c: 2 }] })).toBe(hashValues({ b: [1, { c: 2 }], a: 1, d: undefined }));
  expect(canonicalJson({ b: 1, a: "x" })).toBe('{"a":"x","b":1}');
  expect(() => hashFolder(path.join(tmp, "missing"))).toThrow("does not exist");
});

describe("code assets leave out what the folder's ignore file lists, as az ml does", () => {
  const write = (rel: string, text = "x") => {
    fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
    fs.writeFileSync(path.join(tmp, rel), text);
  };

  test("gitignore patterns: anchored, any depth, folders, globs, negation (the last matching line wins)", () => {
    const rules = parseIgnoreFile(
      [
        "# comment",
        "",
        ".env*",
        "*.pem",
        "/local.cfg",
        "build/",
        "data/**/*.npz",
        "*.log",
        "!keep.log",
        "\\#odd",
      ].join("\n"),
    );
    const excluded = (rel: string) => isExcluded(rules, rel);
    for (const rel of [".env", ".env.local", "sub/.env", "k.pem", "a/b/k.pem", "local.cfg", "build/x.py"])
      expect({ rel, out: excluded(rel) }).toEqual({ rel, out: true });
    for (const rel of ["data/a/b/x.npz", "data/x.npz", "x.log", "a/x.log", "#odd"])
      expect({ rel, out: excluded(rel) }).toEqual({ rel, out: true });
    for (const rel of [
      "app.py",
      "sub/local.cfg",
      "env.py",
      "keep.log",
      "a/keep.log",
      "build.py",
      "other/x.npz",
    ])
      expect({ rel, out: excluded(rel) }).toEqual({ rel, out: false });
    // a file inside an ignored folder cannot be re-included (git's rule)
    expect(isExcluded(parseIgnoreFile("build/\n!build/keep.py"), "build/keep.py")).toBe(true);
  });

  test(".amlignore takes precedence over .gitignore; neither: every file (dotfiles included, as az ml uploads them)", () => {
    write("app.py");
    write(".env", "SECRET=1");
    write("model.keras");
    expect(listCodeFiles(tmp)).toEqual([".env", "app.py", "model.keras"]);
    write(".gitignore", "*.keras\n.env\n");
    expect(listCodeFiles(tmp)).toEqual([".gitignore", "app.py"]);
    write(".amlignore", ".env\n");
    expect(listCodeFiles(tmp)).toEqual([".amlignore", ".gitignore", "app.py", "model.keras"]);
  });

  test("only the folder's own ignore file counts, not one in an enclosing folder", () => {
    const code = path.join(tmp, "training");
    fs.mkdirSync(code);
    fs.writeFileSync(path.join(tmp, ".gitignore"), "*.py\n");
    fs.writeFileSync(path.join(code, "app.py"), "print(1)\n");
    expect(listCodeFiles(code)).toEqual(["app.py"]);
  });

  test("the version is the hash of that same list: an ignored .env or model file changes nothing", () => {
    write("app.py", "print(1)\n");
    write(".amlignore", ".env\n*.keras\n");
    const before = codeVersionOf(tmp, listCodeFiles(tmp));
    write(".env", "AZURE_CLIENT_SECRET=do-not-upload\n");
    write("stray.keras", "weights");
    expect(codeVersionOf(tmp, listCodeFiles(tmp))).toBe(before);
    expect(codeVersionOf(tmp, listAssetFiles(tmp))).not.toBe(before); // the unfiltered list would have taken them in
    expect(codeVersionOf(tmp)).toBe(before); // and the default is the filtered list, as ensure-code uploads it
    write("util.py", "");
    expect(codeVersionOf(tmp, listCodeFiles(tmp))).not.toBe(before);
  });
});

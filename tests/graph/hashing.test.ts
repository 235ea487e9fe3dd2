// Content hashes of asset folders: a version changes when, and only when, the folder's content changes.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { canonicalJson, hashFolder, hashValues, listAssetFiles } from "../../lib/hashing";
import { codeVersionOf } from "../../components/codeAsset";
import { uploadPrefix } from "../../lib/assets";
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

import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  VERSION_FILE,
  assertSafeName,
  compareVersions,
  getVersion,
  latestOf,
  latestVersion,
  listFiles,
  listModels,
  listVersions,
  nextVersion,
  nextVersionOf,
  registerModel,
  sortByCreatedAt,
} from "../../local/registry";

function modelFolder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "model-src-"));
  writeFileSync(path.join(dir, "mnist_cnn.keras"), "fake keras");
  writeFileSync(path.join(dir, "metrics.json"), JSON.stringify({ test_accuracy: 0.99 }));
  mkdirSync(path.join(dir, "extra"));
  writeFileSync(path.join(dir, "extra", "note.txt"), "x");
  return dir;
}

describe("pure helpers", () => {
  test("nextVersionOf", () => {
    expect(nextVersionOf([])).toBe("1");
    expect(nextVersionOf(["1", "2", "10"])).toBe("11");
    expect(nextVersionOf(["3", "azure-abc", "2024-01"])).toBe("4");
  });
  test("compareVersions: numeric when both are integers", () => {
    expect(["10", "9", "1"].sort(compareVersions)).toEqual(["1", "9", "10"]);
    expect(compareVersions("v2", "v10")).toBeLessThan(0);
  });
  test("latest by createdAt, not by number", () => {
    const vs = [
      { version: "1", createdAt: "2026-01-01T00:00:00Z" },
      { version: "7", createdAt: "2026-01-02T00:00:00Z" }, // downloaded from Azure, older than local 3
      { version: "3", createdAt: "2026-01-03T00:00:00Z" },
    ];
    expect(latestOf(vs)?.version).toBe("3");
    expect(sortByCreatedAt(vs).map((v) => v.version)).toEqual(["1", "7", "3"]);
    expect(latestOf([])).toBeUndefined();
  });
  test("same createdAt: higher version wins", () => {
    const t = "2026-01-01T00:00:00Z";
    expect(
      latestOf([
        { version: "2", createdAt: t },
        { version: "1", createdAt: t },
      ])?.version,
    ).toBe("2");
  });
  test("safe names", () => {
    expect(() => assertSafeName("x", "mnist-cnn")).not.toThrow();
    expect(() => assertSafeName("x", "1.2_a")).not.toThrow();
    for (const bad of ["", "..", "../x", "a/b", "-x", "a b"])
      expect(() => assertSafeName("x", bad)).toThrow();
  });
});

describe("registry on disk", () => {
  test("register, list, latest, next", () => {
    const reg = mkdtempSync(path.join(tmpdir(), "registry-"));
    const src = modelFolder();
    expect(listVersions(reg, "mnist-cnn")).toEqual([]);
    expect(nextVersion(reg, "mnist-cnn")).toBe("1");
    expect(latestVersion(reg, "mnist-cnn")).toBeUndefined();

    const v1 = registerModel({
      registry: reg,
      name: "mnist-cnn",
      sourceDir: src,
      source: { test_accuracy: 0.99 },
      createdAt: new Date("2026-01-01T00:00:00Z"),
    });
    expect(v1.version).toBe("1");
    expect(v1.dir).toBe(path.join(reg, "mnist-cnn", "1"));
    expect(v1.files).toEqual(["extra/note.txt", "metrics.json", "mnist_cnn.keras"]);
    expect(readFileSync(path.join(v1.dir, "mnist_cnn.keras"), "utf8")).toBe("fake keras");
    const meta = JSON.parse(readFileSync(path.join(v1.dir, VERSION_FILE), "utf8"));
    expect(meta).toEqual({
      name: "mnist-cnn",
      version: "1",
      createdAt: "2026-01-01T00:00:00.000Z",
      source: { test_accuracy: 0.99 },
      files: v1.files,
    });

    const v2 = registerModel({
      registry: reg,
      name: "mnist-cnn",
      sourceDir: src,
      createdAt: new Date("2026-01-02T00:00:00Z"),
    });
    expect(v2.version).toBe("2");
    expect(v2.source).toEqual({ dir: path.resolve(src) });
    // An Azure version downloaded later but created earlier.
    registerModel({
      registry: reg,
      name: "mnist-cnn",
      sourceDir: src,
      version: "17",
      createdAt: new Date("2025-12-01T00:00:00Z"),
    });
    expect(listVersions(reg, "mnist-cnn").map((v) => v.version)).toEqual(["17", "1", "2"]);
    expect(latestVersion(reg, "mnist-cnn")?.version).toBe("2");
    expect(nextVersion(reg, "mnist-cnn")).toBe("18");
    expect(getVersion(reg, "mnist-cnn", "1")?.source).toEqual({ test_accuracy: 0.99 });
    expect(getVersion(reg, "mnist-cnn", "99")).toBeUndefined();
    expect(listModels(reg)).toEqual(["mnist-cnn"]);
  });

  test("incomplete folders are not versions, but their numbers are not reused", () => {
    const reg = mkdtempSync(path.join(tmpdir(), "registry-"));
    mkdirSync(path.join(reg, "m", "4"), { recursive: true }); // no model-version.json
    mkdirSync(path.join(reg, "m", ".tmp-5-123"), { recursive: true }); // a crashed copy
    expect(listVersions(reg, "m")).toEqual([]);
    expect(nextVersion(reg, "m")).toBe("6");
  });

  test("errors: existing version, empty or missing source; filter", () => {
    const reg = mkdtempSync(path.join(tmpdir(), "registry-"));
    const src = modelFolder();
    registerModel({ registry: reg, name: "m", sourceDir: src, version: "1" });
    expect(() => registerModel({ registry: reg, name: "m", sourceDir: src, version: "1" })).toThrow(
      /already exists/,
    );
    expect(
      registerModel({ registry: reg, name: "m", sourceDir: src, version: "1", overwrite: true }).version,
    ).toBe("1");
    expect(() => registerModel({ registry: reg, name: "m", sourceDir: path.join(src, "nope") })).toThrow(
      /not found/,
    );
    expect(() => registerModel({ registry: reg, name: "m", sourceDir: src, filter: () => false })).toThrow(
      /no model files/,
    );
    const only = registerModel({
      registry: reg,
      name: "m",
      sourceDir: src,
      filter: (f) => f.endsWith(".keras"),
    });
    expect(only.files).toEqual(["mnist_cnn.keras"]);
    expect(listFiles(only.dir)).toEqual(["mnist_cnn.keras", VERSION_FILE]);
    expect(existsSync(path.join(reg, "m", `.tmp-2-${process.pid}`))).toBe(false);
    expect(() => registerModel({ registry: reg, name: "../evil", sourceDir: src })).toThrow(
      /invalid model name/,
    );
  });
});

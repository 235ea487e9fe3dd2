// Pinned requirements read from the project's requirement files, so a pin is written in one place.
import * as fs from "fs";

/** The `name==version` lines of a requirements file for the given package names, in the order asked. */
export function requirementPins(file: string, names: readonly string[]): string[] {
  const lines = fs
    .readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
  return names.map((name) => {
    const pin = lines.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}==`));
    if (!pin) throw new Error(`${file} pins no ${name}`);
    return pin;
  });
}

// Writes what derives from lib/config/schema.ts into the files people read: Pulumi.yaml's typed `config:` section
// and the configuration table in docs/deploy.md (between its config-table markers). Tests fail while they differ.
// Usage: npm run config:sync
import * as fs from "fs";
import * as path from "path";
import { configTableMarkdown, pulumiYamlText, replaceBetweenMarkers } from "../lib/config/render";

const ROOT = path.join(__dirname, "..");

function sync(file: string, render: (text: string) => string): void {
  const full = path.join(ROOT, file);
  const before = fs.readFileSync(full, "utf8");
  const after = render(before);
  if (after !== before) fs.writeFileSync(full, after);
  process.stderr.write(`${file}: ${after === before ? "up to date" : "written"}\n`);
}

sync("Pulumi.yaml", pulumiYamlText);
sync("docs/deploy.md", (text) => replaceBetweenMarkers(text, configTableMarkdown()));

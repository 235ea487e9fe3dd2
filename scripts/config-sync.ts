// Writes Pulumi.yaml's typed `config:` section from lib/config/schema.ts (a test fails while the two differ).
// Usage: npm run config:sync
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { pulumiYamlConfig } from "../lib/config/schema";

const file = path.join(__dirname, "..", "Pulumi.yaml");
const text = fs.readFileSync(file, "utf8");
const at = text.search(/^config:$/m);
if (at < 0) throw new Error("Pulumi.yaml has no top-level `config:` section");
const section = stringify({ config: pulumiYamlConfig() }, { lineWidth: 0 });
fs.writeFileSync(file, text.slice(0, at) + section);
process.stderr.write(`wrote ${Object.keys(pulumiYamlConfig()).length} keys to Pulumi.yaml\n`);

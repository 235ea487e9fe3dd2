// The schema rendered for people: Pulumi.yaml's typed config section and the configuration table of
// docs/deploy.md. Pure; scripts/config-sync.ts writes them, tests/graph/config.test.ts checks they are current.
import { stringify } from "yaml";
import { SCHEMA, type Setting, pulumiYamlConfig } from "./schema";

/** Pulumi.yaml with its `config:` section replaced by the schema's (everything before it kept). */
export function pulumiYamlText(current: string): string {
  const at = current.search(/^config:$/m);
  if (at < 0) throw new Error("Pulumi.yaml has no top-level `config:` section");
  return current.slice(0, at) + stringify({ config: pulumiYamlConfig() }, { lineWidth: 0 });
}

const BEGIN = "<!-- config-table:begin (npm run config:sync writes this table from lib/config/schema.ts) -->";
const END = "<!-- config-table:end -->";

function shownDefault(s: Setting<unknown>): string {
  if (s.default === undefined || s.default === "") return "—";
  if (s.default !== null && typeof s.default === "object")
    return Object.keys(s.default).length === 0 ? "`{}`" : "see below";
  return `\`${String(s.default)}\``;
}

/** One row per key, grouped as the components take them. */
export function configTableMarkdown(): string {
  const rows = ["| Group | Key | Default | What it is |", "|---|---|---|---|"];
  for (const [group, settings] of Object.entries(SCHEMA)) {
    for (const s of Object.values(settings as Record<string, Setting<unknown>>)) {
      rows.push(`| ${group} | \`${s.key}\` | ${shownDefault(s)} | ${s.description.replace(/\|/g, "\\|")} |`);
    }
  }
  return [BEGIN, ...rows, END].join("\n");
}

/** `text` with the block between the config-table markers replaced by `block` (markers included in `block`). */
export function replaceBetweenMarkers(text: string, block: string): string {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/deploy.md has no ${BEGIN} … ${END} block`);
  return text.slice(0, start) + block + text.slice(end + END.length);
}

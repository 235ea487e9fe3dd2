/** Minimal `--flag value` / `--switch` parsing for the ops CLIs (strict: unknown flags are usage errors). */
import { OpsError } from "./log";

export interface FlagSpec {
  /** true = takes no value */
  boolean?: boolean;
  required?: boolean;
  default?: string;
}

export type ParsedArgs = Record<string, string | boolean | undefined>;

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>, usage: string): ParsedArgs {
  const out: ParsedArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") throw new OpsError(usage, [], 2);
    if (!arg.startsWith("--")) throw new OpsError(`unexpected argument '${arg}'\n${usage}`, [], 2);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const s = spec[name];
    if (!s) throw new OpsError(`unknown option --${name}\n${usage}`, [], 2);
    if (s.boolean) {
      if (value !== undefined) throw new OpsError(`--${name} takes no value`, [], 2);
      out[name] = true;
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || value.startsWith("--")) throw new OpsError(`--${name} needs a value`, [], 2);
    }
    out[name] = value;
  }
  for (const [name, s] of Object.entries(spec)) {
    if (out[name] === undefined && s.default !== undefined) out[name] = s.default;
    if (s.required && out[name] === undefined) throw new OpsError(`--${name} is required\n${usage}`, [], 2);
  }
  return out;
}

export function str(args: ParsedArgs, name: string): string {
  const v = args[name];
  if (typeof v !== "string") throw new OpsError(`--${name} is required`, [], 2);
  return v;
}

export function num(args: ParsedArgs, name: string, opts: { min?: number } = {}): number {
  const raw = str(args, name);
  const v = Number(raw);
  if (!Number.isFinite(v) || (opts.min !== undefined && v < opts.min)) {
    throw new OpsError(
      `--${name} must be a number${opts.min !== undefined ? ` >= ${opts.min}` : ""}, got '${raw}'`,
      [],
      2,
    );
  }
  return v;
}

export function optNum(args: ParsedArgs, name: string): number | undefined {
  return args[name] === undefined ? undefined : num(args, name);
}

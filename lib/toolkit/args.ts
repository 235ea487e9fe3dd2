/**
 * The one argument parser of the CLIs: `--flag value`, `--flag=value`, `--switch`, `-h`/`--help`. Strict (unknown
 * flags and stray words are usage errors) and typed: numbers are checked against their range here, so a bad value
 * stops the CLI with exit 2 before it authenticates or sends anything.
 */
import { UsageError } from "./errors";
import { registerSecret } from "./redact";

export type FlagSpec =
  | {
      type: "string";
      required?: boolean;
      default?: string;
      /** what the value is, for the usage line (default VALUE) */
      placeholder?: string;
      /** the value is redacted from all output */
      secret?: boolean;
      /** the only values accepted */
      choices?: readonly string[];
    }
  | {
      type: "number";
      required?: boolean;
      default?: number;
      min?: number;
      max?: number;
      integer?: boolean;
      /** default N */
      placeholder?: string;
    }
  | { type: "boolean" };

export type FlagSpecs = Record<string, FlagSpec>;

type Known = { required: true } | { default: unknown };
/** A string flag's type: its choices when it has them. */
type Text<S> = S extends { choices: readonly (infer C)[] } ? C : string;
type ValueOf<S extends FlagSpec> = S extends { type: "boolean" }
  ? boolean
  : S extends { type: "number" }
    ? S extends Known
      ? number
      : number | undefined
    : S extends Known
      ? Text<S>
      : Text<S> | undefined;

/** The parsed values, typed from the spec: a flag with a default or `required` is never undefined. */
export type FlagValues<F extends FlagSpecs> = { -readonly [K in keyof F]: ValueOf<F[K]> };

/** "in [0, 1]", ">= 0", "" */
function rangeText(spec: { min?: number; max?: number }): string {
  if (spec.min !== undefined && spec.max !== undefined) return ` in [${spec.min}, ${spec.max}]`;
  if (spec.min !== undefined) return ` >= ${spec.min}`;
  if (spec.max !== undefined) return ` <= ${spec.max}`;
  return "";
}

/** A number flag's value, range-checked; the message names the flag and the range, never another flag's value. */
export function parseNumber(
  name: string,
  raw: string,
  spec: { min?: number; max?: number; integer?: boolean },
): number {
  const v = Number(raw);
  const ok =
    raw.trim() !== "" &&
    Number.isFinite(v) &&
    (!spec.integer || Number.isInteger(v)) &&
    (spec.min === undefined || v >= spec.min) &&
    (spec.max === undefined || v <= spec.max);
  if (!ok) {
    throw new UsageError(
      `--${name} must be ${spec.integer ? "an integer" : "a number"}${rangeText(spec)}, got '${raw}'`,
    );
  }
  return v;
}

function parseChoice(name: string, raw: string, spec: { choices?: readonly string[] }): string {
  if (spec.choices && !spec.choices.includes(raw)) {
    throw new UsageError(`--${name} must be one of ${spec.choices.join(", ")}, got '${raw}'`);
  }
  return raw;
}

/** The raw words: flag name → string (or true for switches). `null` when help was asked for. */
function tokenize(argv: string[], flags: FlagSpecs): Map<string, string | true> | null {
  const raw = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") return null;
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq >= 0 ? eq : undefined);
    const spec = flags[name];
    if (!spec) throw new UsageError(`unknown option --${name}`);
    if (spec.type === "boolean") {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      raw.set(name, true);
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith("--"))) {
      throw new UsageError(`--${name} needs a value`);
    }
    if (spec.type === "string" && spec.secret) registerSecret(value);
    raw.set(name, value);
  }
  return raw;
}

/**
 * Parses `argv` (without node and the script) against `flags`. Returns `null` for `--help`/`-h`; throws
 * `UsageError` for anything else that is wrong, including a number out of its range.
 */
export function parseArgs<const F extends FlagSpecs>(argv: string[], flags: F): FlagValues<F> | null {
  const raw = tokenize(argv, flags);
  if (raw === null) return null;
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(flags)) {
    const given = raw.get(name);
    if (spec.type === "boolean") {
      out[name] = given === true;
      continue;
    }
    if (given === undefined) {
      if (spec.required) throw new UsageError(`--${name} is required`);
      out[name] = spec.default;
      continue;
    }
    out[name] =
      spec.type === "number"
        ? parseNumber(name, given as string, spec)
        : parseChoice(name, given as string, spec);
  }
  return out as FlagValues<F>;
}

/**
 * A CLI's parse function: its flags parsed, then turned into its options by `build` (which may throw UsageError
 * for checks across flags); `null` for --help.
 */
export function withFlags<const F extends FlagSpecs, O>(
  flags: F,
  build: (values: FlagValues<F>) => O,
): (argv: string[]) => O | null {
  return (argv) => {
    const values = parseArgs(argv, flags);
    return values === null ? null : build(values);
  };
}

/**
 * `usage: <command> --job-id <ARM id> [--min-accuracy F in [0, 1]] [--poll-seconds N=15] [--delete] ...`, from the
 * spec, so that it cannot drift from it (a default is shown instead of the range).
 */
export function usageLine(command: string, flags: FlagSpecs): string {
  const words = Object.entries(flags).map(([name, spec]) => {
    if (spec.type === "boolean") return `[--${name}]`;
    const value =
      spec.placeholder ?? (spec.type === "number" ? "N" : spec.choices ? spec.choices.join("|") : "VALUE");
    const shown =
      spec.default !== undefined
        ? `${value}=${spec.default}`
        : spec.type === "number"
          ? value + rangeText(spec)
          : value;
    return spec.required ? `--${name} ${shown}` : `[--${name} ${shown}]`;
  });
  return `usage: ${command} ${words.join(" ")}`;
}

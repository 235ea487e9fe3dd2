// Reads raw stack config values (strings, as Pulumi hands them over) and collects every problem instead of failing
// on the first, so one `pulumi preview` shows every bad key. Pure: takes a lookup function.

/** Lookup of a raw config value: `key` is a project key ("epochs") or a namespaced one ("azure-native:location"). */
export type ConfigLookup = (key: string) => string | undefined;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** What an explicitly empty value means for a key. */
export type EmptyValue = "unset" | "reject";

export class Reader {
  readonly problems: string[] = [];
  constructor(
    private readonly lookup: ConfigLookup,
    private readonly project: string,
  ) {}

  fq(key: string): string {
    return key.includes(":") ? key : `${this.project}:${key}`;
  }

  /**
   * The raw value, undefined when not set. An explicit "" is "not set" only where empty has a meaning; elsewhere it
   * is an error (a silent fall-back to the default would hide a typo such as `gpuVmSize: ""`).
   */
  raw(key: string, empty: EmptyValue = "reject"): string | undefined {
    const v = this.lookup(key);
    if (v === undefined) return undefined;
    if (v.trim() === "") {
      if (empty === "reject") this.fail(key, v, "must not be empty (remove the key to use the default)");
      return undefined;
    }
    return v;
  }

  fail(key: string, value: unknown, rule: string): void {
    const shown = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value ?? null);
    this.problems.push(`${this.fq(key)} = ${shown} is invalid: ${rule}`);
  }

  problem(text: string): void {
    this.problems.push(text);
  }

  text(key: string, def: string, pattern?: RegExp, rule?: string): string {
    const v = this.raw(key) ?? def;
    if (pattern && !pattern.test(v)) this.fail(key, v, rule ?? `must match ${pattern}`);
    return v;
  }

  optionalText(key: string, pattern: RegExp, rule: string): string | undefined {
    const v = this.raw(key, "unset");
    if (v !== undefined && !pattern.test(v)) this.fail(key, v, rule);
    return v;
  }

  integer(key: string, def: number, min: number, max: number): number {
    const v = this.raw(key);
    if (v === undefined) return def;
    const n = Number(v.trim());
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      this.fail(key, v, `must be an integer in [${min}, ${max}]`);
      return def;
    }
    return n;
  }

  /** A number in (min, max], or (min, max) when `openMax`. */
  decimal(key: string, def: number, min: number, max: number, openMax = false): number {
    const v = this.raw(key);
    if (v === undefined) return def;
    const n = Number(v.trim());
    const ok = Number.isFinite(n) && n > min && (openMax ? n < max : n <= max);
    if (!ok) {
      this.fail(key, v, `must be a number in (${min}, ${max}${openMax ? ")" : "]"}`);
      return def;
    }
    return n;
  }

  flag(key: string, def: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (v === "true") return true;
    if (v === "false") return false;
    this.fail(key, v, "must be true or false");
    return def;
  }

  choice<T extends string>(key: string, def: T, options: readonly T[]): T {
    const v = this.raw(key) ?? def;
    if ((options as readonly string[]).includes(v)) return v as T;
    this.fail(key, v, `must be one of ${options.join(", ")}`);
    return def;
  }

  /** A JSON object (Pulumi passes structured config as JSON text). */
  object(key: string): Record<string, unknown> | undefined {
    const v = this.raw(key, "unset");
    if (v === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      this.fail(key, v, "must be an object (YAML mapping)");
      return undefined;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      this.fail(key, parsed, "must be an object (YAML mapping)");
      return undefined;
    }
    return parsed as Record<string, unknown>;
  }
}

// Azure resource names: built from the project, the stack and a per-stack random suffix, and checked against
// Azure's rules here so a bad name fails at preview instead of half-way through `pulumi up`.
// Pure functions: the suffix is a plain string here; components call them inside `suffix.apply(...)`.
import { createHash } from "crypto";

/** Length of the per-stack random suffix (lowercase letters and digits). */
export const SUFFIX_LENGTH = 6;

interface NameRule {
  pattern: RegExp;
  rule: string;
  /** Extra check beyond the pattern; returns a reason or undefined. */
  extra?: (name: string) => string | undefined;
}

const noDoubleHyphen = (n: string) => (n.includes("--") ? "no consecutive hyphens" : undefined);

export const NAME_RULES = {
  resourceGroup: {
    pattern: /^[-\w.()]{0,89}[-\w()]$/,
    rule: "1-90 letters, digits, '_', '-', '.', '(' or ')', and not end with '.'",
  },
  logAnalytics: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/,
    rule: "4-63 letters, digits, hyphens; alphanumeric first and last",
  },
  appInsights: {
    pattern: /^[\w().-]{0,259}[\w()-]$/,
    rule: "1-260 letters, digits, _-.() not ending in '.'",
  },
  storageAccount: { pattern: /^[a-z0-9]{3,24}$/, rule: "3-24 lowercase letters and digits" },
  keyVault: {
    pattern: /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/,
    rule: "3-24 letters, digits, hyphens; letter first, no hyphen last",
    extra: noDoubleHyphen,
  },
  containerRegistry: { pattern: /^[a-zA-Z0-9]{5,50}$/, rule: "5-50 letters and digits" },
  workspace: {
    pattern: /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/,
    rule: "3-33 letters, digits, '_', '-'; alphanumeric first",
  },
  compute: {
    pattern: /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/,
    rule: "3-24 letters, digits, hyphens; letter first; not ending in -<digits>",
    extra: (n: string) => (/-\d+$/.test(n) ? "must not end with a hyphen followed by digits" : undefined),
  },
  endpoint: {
    pattern: /^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$/,
    rule: "3-32 letters, digits, hyphens; letter first, alphanumeric last",
  },
  deployment: {
    pattern: /^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$/,
    rule: "3-32 letters, digits, hyphens; letter first, alphanumeric last",
  },
} satisfies Record<string, NameRule>;

export type NameKind = keyof typeof NAME_RULES;

/** Returns the name unchanged, or throws naming the kind, the value and the rule. */
export function validateName(kind: NameKind, name: string): string {
  const r: NameRule = NAME_RULES[kind];
  const reason = !r.pattern.test(name) ? r.rule : r.extra?.(name);
  if (reason) throw new Error(`${kind} name "${name}" is invalid: ${reason}`);
  return name;
}

/** Lowercase, non-alphanumerics to single hyphens, trimmed to maxLength without a trailing hyphen. */
export function slug(text: string, maxLength: number): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, maxLength)
    .replace(/-+$/, "");
}

/** Lowercase letters and digits only, at most maxLength. */
export function alnum(text: string, maxLength: number): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "")
    .slice(0, maxLength);
}

/**
 * `text` made to fit `max` characters by `clean` (slug or alnum). When it must be cut, its last 3 characters are a
 * hash of the whole text, so two qualifiers that share a long prefix ("trainer-1", "trainer-2") never meet.
 */
export function fitted(text: string, max: number, clean: (t: string, n: number) => string, sep = ""): string {
  const whole = clean(text, 1000);
  if (whole.length <= max) return whole;
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 3);
  return `${clean(text, max - hash.length - sep.length)}${sep}${hash}`;
}

function joined(prefix: string, middle: string, suffix: string): string {
  return middle ? `${prefix}-${middle}-${suffix}` : `${prefix}-${suffix}`;
}

export function checkSuffix(suffix: string): string {
  if (!new RegExp(`^[a-z0-9]{${SUFFIX_LENGTH}}$`).test(suffix)) {
    throw new Error(`name suffix "${suffix}" must be ${SUFFIX_LENGTH} lowercase letters or digits`);
  }
  return suffix;
}

/** Resource group created by the program when config `resourceGroupName` is not set (no suffix: RGs are not soft-deleted). */
export function resourceGroupName(project: string, stack: string, qualifier?: string): string {
  const q = qualifier ? `-${fitted(qualifier, 8, slug, "-")}` : "";
  return validateName("resourceGroup", `rg-${slug(project, 40)}-${slug(stack, 40)}${q}`);
}

/** Names that Azure reserves after delete (soft delete, global or regional uniqueness) carry the suffix. */
export interface WorkspaceNames {
  logAnalytics: string;
  appInsights: string;
  storageAccount: string;
  keyVault: string;
  containerRegistry: string;
  workspace: string;
}

export function workspaceNames(stack: string, suffix: string): WorkspaceNames {
  checkSuffix(suffix);
  return {
    logAnalytics: validateName("logAnalytics", joined("law", slug(stack, 40), suffix)),
    appInsights: validateName("appInsights", joined("appi", slug(stack, 40), suffix)),
    storageAccount: validateName("storageAccount", `st${alnum(stack, 24 - 2 - SUFFIX_LENGTH)}${suffix}`),
    keyVault: validateName("keyVault", joined("kv", slug(stack, 24 - 4 - SUFFIX_LENGTH), suffix)),
    containerRegistry: validateName(
      "containerRegistry",
      `acr${alnum(stack, 50 - 3 - SUFFIX_LENGTH)}${suffix}`,
    ),
    workspace: validateName("workspace", joined("mlw", slug(stack, 33 - 5 - SUFFIX_LENGTH), suffix)),
  };
}

/**
 * Compute cluster name. VM size and priority are immutable on a cluster (and a same-name re-create may keep the
 * old size), so both are encoded in the name: a change creates a new cluster. No hyphen before the suffix, which
 * may be all digits (Azure rejects a trailing -<digits>).
 */
export function computeName(
  vmSize: string,
  lowPriority: boolean,
  suffix: string,
  qualifier?: string,
): string {
  checkSuffix(suffix);
  // A qualifier (a second cluster's) goes first, at most 4 characters.
  const q = qualifier ? fitted(qualifier, 4, alnum) : "";
  let size = alnum(vmSize.replace(/^Standard_/i, ""), 64);
  const room = 24 - 1 - q.length - SUFFIX_LENGTH - 1; // letter prefix "g", priority letter
  if (size.length > room) size = size.slice(0, room);
  return validateName("compute", `g${q}${size}${lowPriority ? "l" : "d"}${suffix}`);
}

/** Online endpoint name: unique in the Azure region across all subscriptions, hence the suffix. */
export function endpointName(stack: string, suffix: string, qualifier?: string): string {
  checkSuffix(suffix);
  // A qualifier (a second endpoint's) goes before the stack, at most 8 characters.
  const room = 32 - 7 - SUFFIX_LENGTH;
  const middle = qualifier
    ? `${fitted(qualifier, 8, slug, "-")}-${slug(stack, room - 9)}`
    : slug(stack, room);
  return validateName("endpoint", joined("mnist", middle, suffix));
}

/** Deployment name from a content hash: a new model/code/environment/size rolls out as a new deployment. */
export function deploymentName(hash: string): string {
  return validateName("deployment", `d-${hash.slice(0, 12)}`);
}

/** The tag that names the component a GPU cluster belongs to: what finds the clusters the program no longer declares. */
export const CLUSTER_OWNER_TAG = "clusterOf";

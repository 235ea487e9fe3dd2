/**
 * ensure-environment: makes an environment version exist in the workspace, the way Azure ML's own CLI does: reused
 * when that version is there (its version is a content hash of image + conda spec, so same version = same content),
 * registered otherwise. Never deletes: versions are history, and a delete may be refused (assets are archived).
 *
 *   ENVIRONMENT_SPEC='{"image","condaFile","osType","description","tags"}' \
 *     tsx ops/ensure-environment.ts --workspace-id <ARM id> --name NAME --version V [--arm-endpoint URL]
 *
 * = `GET <ws>/environments/<name>/versions/<v>` → 404 → `PUT` with `{"properties": ENVIRONMENT_SPEC}`
 * (examples/Workspace/EnvironmentVersion/createOrUpdate.json). The image is built on the first job or deployment.
 * stdout: {"id","name","version","reused"}.
 */
import { ArmClient } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import {
  ASSET_VERSION_FLAGS,
  assetTarget,
  describedBy,
  ensureAssetVersion,
  jsonObjectFromEnv,
  putAssetVersion,
  type AssetTarget,
} from "../lib/azureml/assets";
import { UsageError } from "../lib/toolkit/errors";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import type { AssetResult } from "../lib/core/contracts";

const FLAGS = ASSET_VERSION_FLAGS;

const USAGE = usageLine("ENVIRONMENT_SPEC='<JSON>' bash scripts/env.sh tsx ops/ensure-environment.ts", FLAGS);

/** The EnvironmentVersion properties this step registers (2025-12-01, conda file as YAML text). */
export interface EnvironmentSpec {
  image: string;
  condaFile: string;
  osType: "Linux" | "Windows";
  description?: string;
  tags?: Record<string, string>;
}

export interface EnvironmentOptions extends AssetTarget {
  spec: EnvironmentSpec;
}

/**
 * True for an image reference with a tag or a digest (`repo/name:tag`, `repo/name@sha256:<64 hex>`): without one
 * the service pulls whatever `latest` is that day, and the version's content hash would not describe the image.
 */
export function imageIsPinned(image: string): boolean {
  if (/\s/.test(image)) return false;
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const last = image.split("/").pop() ?? "";
  return /^[^:]+:[\w][\w.-]{0,127}$/.test(last);
}

/** ENVIRONMENT_SPEC, checked: an image with a tag or digest, a non-empty conda file, Linux or Windows. */
export function parseEnvironmentSpec(raw: Record<string, unknown>): EnvironmentSpec {
  const { image, condaFile, osType = "Linux" } = raw;
  if (typeof image !== "string" || !imageIsPinned(image)) {
    throw new UsageError(
      `ENVIRONMENT_SPEC.image must be an image with a tag or digest (name:tag or name@sha256:...), got ${JSON.stringify(image)}`,
    );
  }
  if (typeof condaFile !== "string" || condaFile.trim() === "")
    throw new UsageError("ENVIRONMENT_SPEC.condaFile must be the conda spec's YAML text (non-empty)");
  if (osType !== "Linux" && osType !== "Windows")
    throw new UsageError(`ENVIRONMENT_SPEC.osType must be Linux or Windows, got ${JSON.stringify(osType)}`);
  return { image, condaFile, osType, ...describedBy(raw, "ENVIRONMENT_SPEC") };
}

export const parseEnvArgs = withFlags(FLAGS, (a): EnvironmentOptions => ({
  ...assetTarget(a, "environments"),
  spec: parseEnvironmentSpec(jsonObjectFromEnv("ENVIRONMENT_SPEC")),
}));

/** Reuse or register the environment version, then print its id. */
export async function ensureEnvironment(o: EnvironmentOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  log(
    `ensure-environment: ${o.ref.name}:${o.ref.version} (${o.spec.image}) in workspace ${o.workspace.workspace}`,
  );
  const result = await ensureAssetVersion(arm, o.ref, async () => {
    await putAssetVersion(arm, o.ref, { ...o.spec });
    return {};
  });
  writeResult(result satisfies AssetResult);
}

export const cli = { name: "ensure-environment", usage: USAGE, parse: parseEnvArgs, main: ensureEnvironment };

if (require.main === module) runCli(cli);

/**
 * ensure-model: makes a model version exist in the workspace, registered from the accepted training job's output:
 * reused when that version is there (its version is the run hash, so the same version is the same training),
 * registered otherwise. Never deletes: a version is history, and the deployment that serves may name it.
 * Why a step and not an azure-native ModelVersion: name and version are explicit, so the provider asks for
 * delete-before-replace (pulumi-azure-native provider/pkg/provider/provider.go Diff: "deleteBeforeReplace :=
 * len(replaces) > 0" unless the resource was auto-named), and a new run would delete the version the serving
 * deployment was created from before its successor exists; in an Azure ML registry a deleted version can never be
 * created again (Azure/azureml-assets#2919).
 *
 *   MODEL_SPEC='{"modelType","modelUri","jobName","description","tags"}' \
 *     tsx ops/ensure-model.ts --workspace-id <ARM id> --name NAME --version V [--arm-endpoint URL]
 *
 * = `GET <ws>/models/<name>/versions/<v>` → 404 → `PUT` with `{"properties": MODEL_SPEC}`
 * (ModelVersions_CreateOrUpdate, ML 2025-12-01, examples/Workspace/ModelVersion/createOrUpdate.json).
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
const USAGE = usageLine("MODEL_SPEC='<JSON>' bash scripts/env.sh tsx ops/ensure-model.ts", FLAGS);

/** The ModelVersion properties this step registers (2025-12-01). */
export interface ModelSpec {
  modelType: string;
  modelUri: string;
  jobName?: string;
  description?: string;
  tags?: Record<string, string>;
}

export interface ModelOptions extends AssetTarget {
  spec: ModelSpec;
}

/** MODEL_SPEC, checked: a model type and an `azureml://jobs/<job>/outputs/...` (or other azureml://) URI. */
export function parseModelSpec(raw: Record<string, unknown>): ModelSpec {
  const { modelType, modelUri, jobName } = raw;
  if (typeof modelType !== "string" || !/^(custom_model|mlflow_model|triton_model)$/.test(modelType)) {
    throw new UsageError(
      `MODEL_SPEC.modelType must be custom_model, mlflow_model or triton_model, got ${JSON.stringify(modelType)}`,
    );
  }
  if (typeof modelUri !== "string" || !/^azureml:\/\/\S+$/.test(modelUri))
    throw new UsageError(`MODEL_SPEC.modelUri must be an azureml:// URI, got ${JSON.stringify(modelUri)}`);
  if (jobName !== undefined && typeof jobName !== "string")
    throw new UsageError("MODEL_SPEC.jobName must be a string");
  return {
    modelType,
    modelUri,
    ...(jobName !== undefined ? { jobName } : {}),
    ...describedBy(raw, "MODEL_SPEC"),
  };
}

export const parseModelArgs = withFlags(FLAGS, (a): ModelOptions => ({
  ...assetTarget(a, "models"),
  spec: parseModelSpec(jsonObjectFromEnv("MODEL_SPEC")),
}));

/** Reuse or register the model version, then print its id. */
export async function ensureModel(o: ModelOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  log(`ensure-model: ${o.ref.name}:${o.ref.version} from ${o.spec.modelUri}`);
  const result = await ensureAssetVersion(arm, o.ref, async () => {
    await putAssetVersion(arm, o.ref, { ...o.spec });
    return {};
  });
  writeResult(result satisfies AssetResult);
}

export const cli = { name: "ensure-model", usage: USAGE, parse: parseModelArgs, main: ensureModel };

if (require.main === module) runCli(cli);

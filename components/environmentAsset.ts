import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import * as command from "@pulumi/command";
import type { WorkspaceRef } from "./mlWorkspace";
import type { AssetResult } from "../lib/core/contracts";
import { hashValues, shortHash } from "../lib/core/hashing";
import { childName } from "../lib/program/children";
import { parseJsonLine, stepCommand } from "../lib/program/steps";

export interface EnvironmentAssetArgs {
  readonly workspace: WorkspaceRef;
  /** Environment (container) name in the workspace. */
  readonly environmentName: string;
  /** Base image the conda environment is built on (a dated tag or digest). */
  readonly image: string;
  /** Path of the conda spec (YAML) the image is built from. */
  readonly condaFile: string;
  readonly description: string;
  /** Pinned pip packages added to the conda spec's pip list (e.g. what a model without an ONNX copy needs). */
  readonly extraPip?: readonly string[];
}

/** The conda spec with `extra` appended to its pip list; unchanged text when there is nothing to add. */
export function withPipPackages(condaText: string, extra: readonly string[] = []): string {
  if (extra.length === 0) return condaText;
  const spec = parse(condaText) as { dependencies?: (string | { pip?: string[] })[] };
  const pip = spec.dependencies?.find(
    (d): d is { pip: string[] } => typeof d === "object" && Array.isArray(d.pip),
  );
  if (!pip) throw new Error("the conda spec has no pip list to extend");
  pip.pip.push(...extra);
  return stringify(spec);
}

/** Version of an environment: a hash of everything that defines the image. */
export function environmentVersion(image: string, condaText: string): string {
  return shortHash(hashValues({ image, conda: condaText }), 16);
}

/** An environment a job or deployment runs in: its ARM id (or registry URI) and what identifies its content. */
export interface EnvironmentRef {
  readonly environmentId: pulumi.Input<string>;
  /** Changes whenever the environment's content does (a content-hash version, or the pinned URI itself). */
  readonly version: string;
  /** Done once the version exists (none for a curated environment, which always does). */
  readonly ready?: pulumi.Resource;
}

/**
 * An environment version built from a conda spec on a base image, versioned by content (a changed spec or image
 * is a new version, never an update) and created as Azure ML's own CLI does: reused when that version exists,
 * registered otherwise (ops/ensure-environment.ts; why a step and not a resource: see CodeAsset). The first job or
 * deployment using it builds the image in the workspace registry.
 */
export class EnvironmentAsset extends pulumi.ComponentResource implements EnvironmentRef {
  readonly version: string;
  /** The environment version's ARM id (what jobs and deployments name). */
  readonly environmentId: pulumi.Output<string>;
  /** Done once the version exists in the workspace. */
  readonly ready: pulumi.CustomResource;

  constructor(name: string, args: EnvironmentAssetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:EnvironmentAsset", name, {}, opts);
    const ws = args.workspace;
    if (!fs.existsSync(args.condaFile)) throw new Error(`environment spec ${args.condaFile} is missing`);
    const condaText = withPipPackages(fs.readFileSync(args.condaFile, "utf8"), args.extraPip);
    this.version = environmentVersion(args.image, condaText);

    // The EnvironmentVersion properties as the 2025-12-01 API takes them (condaFile is the YAML text).
    const spec = {
      image: args.image,
      condaFile: condaText,
      osType: "Linux",
      description: args.description,
      tags: ws.tags,
    };
    const ensure = new command.local.Command(
      childName(name, "ensure"),
      {
        create: stepCommand("ops/ensure-environment.ts", [
          ...["--workspace-id", ws.workspaceId, "--name", args.environmentName],
          ...["--version", this.version],
        ]),
        environment: { ENVIRONMENT_SPEC: JSON.stringify(spec) },
        logging: "stderr",
      },
      ws.childOptions(this),
    );
    this.ready = ensure;
    const result = ensure.stdout.apply((out) => parseJsonLine<AssetResult>(out, "ops/ensure-environment.ts"));
    this.environmentId = result.apply((r) => r.id);
    this.registerOutputs({ environmentId: this.environmentId, version: this.version });
  }
}

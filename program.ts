// The stack as a function: Azure ML lifecycle as one Pulumi graph: pre-flight → workspace → GPU cluster →
// environments + code → training job (reused, followed or submitted, and awaited) → model version → online endpoint
// + deployment → smoke test → traffic (direct, canary or mirror) → retire the previous deployment → sample
// invocation → promotion into the registry (when one is configured). A stack with `modelSource: registry` (prod)
// never trains: it deploys a version from the registry through the same endpoint, smoke test, rollout and sample. The stack config is read and validated against lib/config/schema.ts before anything is declared;
// each group goes to the component that uses it. index.ts runs it; tests run it again and again under mocks
// without reloading the modules it imports.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig, type StackConfig } from "./lib/config/stack";
import { preflightGate } from "./lib/program/preflightStep";
import { requirementPins } from "./lib/program/pins";
import { MlWorkspace } from "./components/mlWorkspace";
import { GpuCompute } from "./components/gpuCompute";
import { EnvironmentAsset, environmentVersion, withPipPackages } from "./components/environmentAsset";
import { CodeAsset, codeVersionOf } from "./components/codeAsset";
import { TrainingJob, runHashOf } from "./components/trainingJob";
import { RegisteredModel, type ModelRef } from "./components/registeredModel";
import { ModelPromotion } from "./components/modelPromotion";
import { OnlineService, deploymentNameOf } from "./components/onlineService";
import { SampleInvocation } from "./components/sampleInvocation";

/** Declares every resource of the stack from its config; returns the stack outputs. */
export function declareStack() {
  const root = __dirname;
  const projectConfig = new pulumi.Config();
  const providerConfig = new pulumi.Config("azure-native");
  const cfg = readStackConfig(
    (key) => (key === "azure-native:location" ? providerConfig.get("location") : projectConfig.get(key)),
    pulumi.getProject(),
    pulumi.getStack(),
    Object.keys(pulumi.runtime.allConfig()),
  );

  const files = stackFiles(root);
  const plan = planStack(cfg, root);
  // The quota and provider pre-flight runs before anything is declared in Azure, in preview too.
  const preflight = preflightGate(cfg, plan.deploymentName);

  const workspace = new MlWorkspace("ml", {
    project: cfg.project,
    stack: cfg.stack,
    location: cfg.location,
    ...cfg.workspace,
    after: preflight,
  });

  const { kerasServing } = plan;
  const inferenceEnv = new EnvironmentAsset("inference-env", {
    workspace,
    environmentName: "mnist-inference",
    image: cfg.inference.image,
    condaFile: files.inferenceConda,
    extraPip: kerasServing,
    description: "Inference image for scoring/score.py (ONNX Runtime + Azure ML inference server)",
  });
  const scoreCode = new CodeAsset("score-code", {
    workspace,
    folder: files.scoring,
    assetName: "mnist-score",
  });

  // Trained here (dev), or taken from the registry as promoted by dev (prod: no cluster, no job).
  const trained = cfg.registry.modelSource === "train" ? declareTraining() : undefined;
  const model: ModelRef =
    trained?.model ??
    registryModel(cfg.registry.registryId!, cfg.model.modelName, cfg.registry.modelVersion!);
  const service = new OnlineService("online", {
    workspace,
    model,
    scoringCode: scoreCode,
    environment: inferenceEnv,
    ...cfg.serving,
    rollout: cfg.rollout,
    smokeMinAccuracy: cfg.sample.minAccuracy,
  });
  const sample = new SampleInvocation("sample", { service, ...cfg.sample });
  // Only a version that passed every gate here, the sample call on the live endpoint included, is promoted.
  const promotion =
    trained && cfg.registry.registryId
      ? new ModelPromotion("promotion", {
          workspace,
          model: trained.model,
          registryId: cfg.registry.registryId,
          minGain: cfg.registry.minGain,
          after: [sample.invocation],
        })
      : undefined;

  return {
    resourceGroupName: workspace.resourceGroupName,
    workspaceName: workspace.workspaceName,
    studioUrl: workspace.studioUrl,
    computeName: trained?.gpu.computeName,
    jobName: trained?.training.jobName,
    jobReused: trained?.training.reused,
    jobStudioUrl: trained?.training.studioUrl,
    runHash: trained?.training.hash,
    testAccuracy: trained?.training.testAccuracy,
    modelName: model.modelName,
    modelVersion: model.modelVersion,
    endpointName: service.endpointName,
    endpointAuthMode: service.authMode,
    scoringUri: service.scoringUri,
    swaggerUri: service.swaggerUri,
    deploymentName: service.deploymentName,
    sampleResult: sample.result,
    registryModelId: promotion?.registryModelId ?? (trained ? undefined : model.modelId),
  };

  /** The GPU cluster, training code and environment, the job and the workspace model version it yields. */
  function declareTraining() {
    const gpu = new GpuCompute("gpu", { workspace, ...cfg.gpu });
    const trainCode = new CodeAsset("train-code", {
      workspace,
      folder: files.training,
      assetName: "mnist-train",
    });
    // Built from environments/training-gpu.yml (the versions the tests run) unless a curated environment is configured.
    const trainingEnv = cfg.training.environment
      ? { environmentId: cfg.training.environment, version: cfg.training.environment }
      : new EnvironmentAsset("training-env", {
          workspace,
          environmentName: "mnist-training-gpu",
          image: cfg.training.image,
          condaFile: files.trainingConda,
          description:
            "Training image for training/app.py (TensorFlow with CUDA, Keras, MLflow; the tests' pins)",
        });
    const training = new TrainingJob("training", {
      workspace,
      compute: gpu,
      code: trainCode,
      ...cfg.training,
      environment: trainingEnv,
    });
    const model = new RegisteredModel("model", { workspace, training, ...cfg.model });
    return { gpu, training, model };
  }
}

/** Where the program's files are: the code folders and conda specs that become assets. */
function stackFiles(root: string) {
  return {
    training: path.join(root, "training"),
    scoring: path.join(root, "scoring"),
    inferenceConda: path.join(root, "scoring", "environment.yml"),
    trainingConda: path.join(root, "environments", "training-gpu.yml"),
  };
}

/**
 * What identifies the model and the deployment this config declares, computed from the config and the files by the
 * same functions the components use, before anything is declared: the pre-flight needs the deployment's name first.
 * tests/graph/program.test.ts checks that the components arrive at the same names.
 */
export function planStack(cfg: StackConfig, root: string) {
  const files = stackFiles(root);
  // A curated training environment has no ONNX exporter, so its model is served from the .keras file: then the
  // inference environment gets TensorFlow and Keras (training's pins) besides ONNX Runtime.
  const kerasServing = cfg.training.environment
    ? requirementPins(path.join(root, "training", "requirements.txt"), ["tensorflow-cpu", "keras"])
    : undefined;
  const conda = (file: string, extra?: readonly string[]) =>
    withPipPackages(fs.readFileSync(file, "utf8"), extra);
  const modelVersion =
    cfg.registry.modelSource === "registry"
      ? cfg.registry.modelVersion!
      : runHashOf({
          ...cfg.training,
          codeVersion: codeVersionOf(files.training),
          environmentVersion:
            cfg.training.environment ?? environmentVersion(cfg.training.image, conda(files.trainingConda)),
          vmSize: cfg.gpu.vmSize,
          lowPriority: cfg.gpu.lowPriority,
        });
  const deploymentName = deploymentNameOf({
    ...cfg.serving,
    model: { modelName: cfg.model.modelName, modelVersion },
    scoringCodeVersion: codeVersionOf(files.scoring),
    environmentVersion: environmentVersion(cfg.inference.image, conda(files.inferenceConda, kerasServing)),
  });
  return { kerasServing, modelVersion, deploymentName };
}

/**
 * A version in the registry as a deployment names it (Learn: concept-online-deployment-model-specification,
 * `azureml://registries/{registry}/models/{name}/versions/{version}`); it exists before this stack runs.
 */
export function registryModel(registryId: string, modelName: string, modelVersion: string): ModelRef {
  const registry = registryId.split("/").pop()!;
  return {
    modelId: `azureml://registries/${registry}/models/${modelName}/versions/${modelVersion}`,
    modelName,
    modelVersion,
  };
}

/** The stack outputs. */
export type StackOutputs = ReturnType<typeof declareStack>;

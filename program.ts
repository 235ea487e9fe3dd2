// The stack as a function: Azure ML lifecycle as one Pulumi graph: pre-flight → workspace → GPU cluster →
// environments + code → training job (reused, followed or submitted, and awaited) → model version → online endpoint
// + deployment → smoke test → traffic (direct, canary or mirror) → retire the previous deployment → sample
// invocation. The stack config is read and validated against lib/config/schema.ts before anything is declared;
// each group goes to the component that uses it. index.ts runs it; tests run it again and again under mocks
// without reloading the modules it imports.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "./lib/config/stack";
import { preflightGate } from "./lib/program/preflightStep";
import { requirementPins } from "./lib/program/pins";
import { MlWorkspace } from "./components/mlWorkspace";
import { GpuCompute } from "./components/gpuCompute";
import { EnvironmentAsset } from "./components/environmentAsset";
import { CodeAsset } from "./components/codeAsset";
import { TrainingJob } from "./components/trainingJob";
import { RegisteredModel } from "./components/registeredModel";
import { OnlineService } from "./components/onlineService";
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

  // The quota and provider pre-flight runs before anything is declared in Azure, in preview too.
  const preflight = preflightGate(cfg);

  const workspace = new MlWorkspace("ml", {
    project: cfg.project,
    stack: cfg.stack,
    location: cfg.location,
    ...cfg.workspace,
    after: preflight.done,
  });
  const gpu = new GpuCompute("gpu", { workspace, ...cfg.gpu });

  // A curated training environment has no ONNX exporter, so its model is served from the .keras file: then the
  // inference environment gets TensorFlow and Keras (training's pins) besides ONNX Runtime.
  const kerasServing = cfg.training.environment
    ? requirementPins(path.join(root, "training", "requirements.txt"), ["tensorflow-cpu", "keras"])
    : undefined;
  const inferenceEnv = new EnvironmentAsset("inference-env", {
    workspace,
    environmentName: "mnist-inference",
    image: cfg.inference.image,
    condaFile: path.join(root, "scoring", "environment.yml"),
    extraPip: kerasServing,
    description: "Inference image for scoring/score.py (ONNX Runtime + Azure ML inference server)",
  });
  const trainCode = new CodeAsset("train-code", {
    workspace,
    folder: path.join(root, "training"),
    assetName: "mnist-train",
  });
  const scoreCode = new CodeAsset("score-code", {
    workspace,
    folder: path.join(root, "scoring"),
    assetName: "mnist-score",
  });

  // Built from environments/training-gpu.yml (the versions the tests run) unless a curated environment is configured.
  const trainingEnv = cfg.training.environment
    ? { environmentId: cfg.training.environment, version: cfg.training.environment }
    : new EnvironmentAsset("training-env", {
        workspace,
        environmentName: "mnist-training-gpu",
        image: cfg.training.image,
        condaFile: path.join(root, "environments", "training-gpu.yml"),
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
  preflight.start(service.deploymentName);

  return {
    resourceGroupName: workspace.resourceGroupName,
    workspaceName: workspace.workspaceName,
    studioUrl: workspace.studioUrl,
    computeName: gpu.computeName,
    jobName: training.jobName,
    jobReused: training.reused,
    jobStudioUrl: training.studioUrl,
    runHash: training.hash,
    testAccuracy: training.testAccuracy,
    modelName: model.modelName,
    modelVersion: model.modelVersion,
    endpointName: service.endpointName,
    endpointAuthMode: service.authMode,
    scoringUri: service.scoringUri,
    swaggerUri: service.swaggerUri,
    deploymentName: service.deploymentName,
    sampleResult: sample.result,
  };
}

/** The stack outputs. */
export type StackOutputs = ReturnType<typeof declareStack>;

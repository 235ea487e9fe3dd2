// Azure ML lifecycle as one Pulumi graph: workspace → GPU cluster → environments + code → training job → wait
// → model → online endpoint + deployment → 100 % traffic → sample invocation. Config is read and validated in
// components/config.ts before anything is declared; the components hold the resources.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "./components/config";
import { MlWorkspace } from "./components/workspace";
import { GpuCompute } from "./components/gpuCompute";
import { Environments } from "./components/environments";
import { CodeAsset } from "./components/codeAsset";
import { TrainingJob } from "./components/trainingJob";
import { RegisteredModel } from "./components/model";
import { OnlineService } from "./components/onlineEndpoint";
import { SampleInvocation } from "./components/sampleInvocation";

const root = __dirname;
const projectConfig = new pulumi.Config();
const providerConfig = new pulumi.Config("azure-native");
const cfg = readStackConfig(
  (key) => (key === "azure-native:location" ? providerConfig.get("location") : projectConfig.get(key)),
  pulumi.getProject(),
  pulumi.getStack(),
  Object.keys(pulumi.runtime.allConfig()),
);
const tags = cfg.tags;

const ws = new MlWorkspace("ml", {
  project: cfg.project,
  stack: cfg.stack,
  location: cfg.location,
  existingResourceGroupName: cfg.resourceGroupName,
  tags,
  purgeOnDestroy: cfg.purgeOnDestroy,
});

const gpu = new GpuCompute("gpu", {
  workspace: ws,
  location: cfg.location,
  vmSize: cfg.gpuVmSize,
  maxNodes: cfg.gpuMaxNodes,
  lowPriority: cfg.gpuLowPriority,
  idleSeconds: cfg.gpuIdleSeconds,
  tags,
});

const envs = new Environments("environments", {
  workspace: ws,
  trainingEnvironmentId: cfg.trainingEnvironment,
  condaFilePath: path.join(root, "scoring", "environment.yml"),
  inferenceImage: cfg.inferenceImage,
  inferenceEnvironmentName: "mnist-inference",
  tags,
});

const trainCode = new CodeAsset("train-code", {
  workspace: ws,
  folder: path.join(root, "training"),
  assetName: "mnist-train",
  tags,
});
const scoreCode = new CodeAsset("score-code", {
  workspace: ws,
  folder: path.join(root, "scoring"),
  assetName: "mnist-score",
  tags,
});

const training = new TrainingJob("training", {
  workspace: ws,
  compute: gpu,
  code: trainCode,
  environmentId: envs.trainingEnvironmentId,
  hyperparameters: {
    epochs: cfg.epochs,
    batchSize: cfg.batchSize,
    learningRate: cfg.learningRate,
    seed: cfg.seed,
  },
  dataUri: cfg.trainingDataUri,
  experimentName: cfg.experimentName,
  displayName: cfg.jobDisplayName,
  retrainNonce: cfg.retrainNonce,
  timeoutMinutes: cfg.jobTimeoutMinutes,
  stuckTimeoutMinutes: cfg.jobStuckTimeoutMinutes,
  minTestAccuracy: cfg.minTestAccuracy,
  tags,
});

const model = new RegisteredModel("model", { workspace: ws, training, modelName: cfg.modelName, tags });

const service = new OnlineService("online", {
  workspace: ws,
  location: cfg.location,
  stack: cfg.stack,
  authMode: cfg.endpointAuthMode,
  model,
  scoringCode: scoreCode,
  environments: envs,
  instanceType: cfg.instanceType,
  instanceCount: cfg.instanceCount,
  workerCount: cfg.workerCount,
  maxBatchSize: cfg.maxBatchSize,
  settings: cfg.deployment,
  tags,
});

const sample = new SampleInvocation("sample", {
  workspace: ws,
  service,
  authMode: cfg.endpointAuthMode,
  minAccuracy: cfg.sampleMinAccuracy,
});

export const resourceGroupName = ws.resourceGroupName;
export const workspaceName = ws.workspaceName;
export const studioUrl = ws.studioUrl;
export const computeName = gpu.computeName;
export const jobName = training.jobName;
export const jobStudioUrl = training.studioUrl;
export const runHash = training.hash;
export const testAccuracy = training.testAccuracy;
export const modelName = model.modelName;
export const modelVersion = model.modelVersion;
export const endpointName = service.endpointName;
export const endpointAuthMode = cfg.endpointAuthMode;
export const scoringUri = service.scoringUri;
export const swaggerUri = service.swaggerUri;
export const deploymentName = service.deploymentName;
export const sampleResult = sample.result;
/** Secret; `pulumi stack output endpointKey --show-secrets`. Absent with AADToken auth. */
export const endpointKey = sample.credential;

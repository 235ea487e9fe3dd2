/** ARM/ML response shapes shared by the ops tests (documented shapes, trimmed). */
import { type FakeAzure, type FakeRes, WS, WS_ID, RG } from "./fake/fakeAzure";

export const JOB = "train-mnist-3f9c2a1b";
export const JOB_ID = `${WS_ID}/jobs/${JOB}`;
export const STUDIO = `https://ml.azure.com/runs/${JOB}?wsid=${WS_ID}&tid=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee`;

export function jobBody(status: string): FakeRes {
  return {
    status: 200,
    body: {
      id: JOB_ID,
      name: JOB,
      type: "Microsoft.MachineLearningServices/workspaces/jobs",
      properties: {
        jobType: "Command",
        status,
        experimentName: "mnist-cnn",
        displayName: JOB,
        computeId: `${WS_ID}/computes/nc4t4abc`,
        command: "python app.py --epochs ${{inputs.epochs}} --output-dir ${{outputs.model_dir}}",
        environmentId: "azureml://registries/azureml/environments/tensorflow-2.16-cuda12/versions/10",
        services: {
          Studio: { jobServiceType: "Studio", endpoint: STUDIO },
          Tracking: {
            jobServiceType: "Tracking",
            endpoint: `azureml://eastus.api.azureml.ms/mlflow/v1.0${WS_ID}?`,
          },
        },
      },
      systemData: { createdAt: "2026-11-26T10:00:00Z", createdBy: "ci" },
    },
  };
}

/** The workspace GET, with an mlFlowTrackingUri pointing at the fake (real ones: azureml://<region>.api.azureml.ms/...). */
export function installWorkspace(fake: FakeAzure): void {
  const host = fake.url.replace(/^https:\/\//, "");
  fake.on("GET", WS_ID, () => ({
    status: 200,
    body: {
      id: WS_ID,
      name: WS,
      location: "eastus",
      properties: {
        workspaceId: "0f0e0d0c-0b0a-0908-0706-050403020100",
        mlFlowTrackingUri: `azureml://${host}/mlflow/v1.0${WS_ID}`,
        discoveryUrl: `${fake.url}/discovery`,
        provisioningState: "Succeeded",
      },
    },
  }));
}

export const MLFLOW_RUN_PATH = `/mlflow/v1.0${WS_ID}/api/2.0/mlflow/runs/get`;
export const RUN_DETAILS_PATH = `/history/v1.0${WS_ID}/runs/${JOB}/details`;

export function installMetrics(fake: FakeAzure, metrics: Record<string, number>): void {
  fake.on("GET", MLFLOW_RUN_PATH, (req) => {
    if (req.query.get("run_id") !== JOB)
      return { status: 404, body: { error_code: "RESOURCE_DOES_NOT_EXIST", message: "Run not found" } };
    return {
      status: 200,
      body: {
        run: {
          info: {
            run_id: JOB,
            run_uuid: JOB,
            experiment_id: "7",
            status: "FINISHED",
            lifecycle_stage: "active",
          },
          data: {
            metrics: Object.entries(metrics).map(([key, value]) => ({
              key,
              value,
              timestamp: 1764151200000,
              step: 0,
            })),
            params: [{ key: "epochs", value: "5" }],
          },
        },
      },
    };
  });
}

export { RG, WS, WS_ID };

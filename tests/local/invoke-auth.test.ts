// `--auth` takes the spellings users bring from the Azure ML CLI's YAML (auth_mode: key | aml_token | aad_token) as
// well as ARM's, and anything else is a usage error naming the choices.
import { parseInvokeArgs } from "../../lib/azureml/invoke";
import { UsageError } from "../../lib/toolkit/errors";

const ENDPOINT =
  "/subscriptions/0/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e";
const parse = (auth: string) =>
  parseInvokeArgs(
    ["--uri", "https://e.westeurope.inference.ml.azure.com/score", "--auth", auth, "--endpoint-id", ENDPOINT],
    {},
  );

test.each([
  ["key", "Key"],
  ["Key", "Key"],
  ["aml_token", "AMLToken"],
  ["AMLToken", "AMLToken"],
  ["AAD_TOKEN", "AADToken"],
])("--auth %s is %s", (given, arm) => {
  expect(parse(given)!.auth).toBe(arm);
});

test("an unknown auth mode is a usage error that names the choices", () => {
  expect(() => parse("token")).toThrow(UsageError);
  expect(() => parse("token")).toThrow(/Key, AMLToken, AADToken.*got 'token'/);
});

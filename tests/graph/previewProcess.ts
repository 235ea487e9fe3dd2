// Runs index.ts under Pulumi's mocks in preview, in a process of its own (as Pulumi's language host runs it), and
// prints one JSON line: the resource types that got declared and the program's errors (unhandled rejections, which
// the language host reports as the program's failure). Config comes as JSON in PROGRAM_CONFIG.
// Used by tests/graph/preflight-program.test.ts; `tsx tests/graph/previewProcess.ts`.
import * as pulumi from "@pulumi/pulumi";

const SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
const declared: string[] = [];
const errors: string[] = [];
process.on("unhandledRejection", (e) => errors.push(e instanceof Error ? e.message : String(e)));

pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      declared.push(args.type);
      if (args.type === "command:local:Command") declared.push(`command:${args.name}`);
      const state: Record<string, unknown> = { ...args.inputs, name: args.name };
      if (args.type === "random:index/randomString:RandomString") state.result = "x7k2p9";
      // A result line that satisfies every step's parser (the steps themselves never run here).
      if (args.type === "command:local:Command")
        state.stdout = JSON.stringify({
          id: `/${args.name}`,
          jobId: `/jobs/${args.name}`,
          jobName: args.name,
          name: args.name,
          scoringUri: `https://${args.name}.example/score`,
          reused: false,
          testAccuracy: 0.99,
        });
      return { id: `${args.name}-id`, state };
    },
    call: (args) =>
      args.token === "azure-native:authorization:getClientConfig"
        ? { subscriptionId: SUBSCRIPTION, tenantId: "tenant", clientId: "client", objectId: "object" }
        : {},
  },
  "azure-ml-mnist",
  "dev",
  true,
);
pulumi.runtime.setAllConfig(JSON.parse(process.env.PROGRAM_CONFIG ?? "{}") as Record<string, string>);
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks, so its resources register against them
require("../../index");

// Done when the last step is declared (the pre-flight passed) or the program failed; bounded either way.
const started = Date.now();
const timer = setInterval(() => {
  const done = errors.length > 0 || declared.includes("command:sample-invoke");
  if (!done && Date.now() - started < 60_000) return;
  clearInterval(timer);
  process.stdout.write(`${JSON.stringify({ declared, errors: [...new Set(errors)] })}\n`);
  process.exit(0);
}, 100);

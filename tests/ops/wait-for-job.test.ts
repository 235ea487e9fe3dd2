import { FakeAzure } from "./fake/fakeAzure";
import { runCli, type CliResult } from "./fake/runCli";
import { installMetrics, installWorkspace, JOB, JOB_ID, jobBody, STUDIO } from "./scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

async function wait(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli(
    "wait-for-job",
    ["--job-id", JOB_ID, "--poll-seconds", "0.05", ...args],
    fake.env(env),
  );
  outputs.push(r);
  return r;
}

test("job completes: status changes, studio link, accuracy checked, JSON result", async () => {
  fake.sequence("GET", JOB_ID, [
    jobBody("NotStarted"),
    jobBody("Queued"),
    jobBody("Queued"),
    jobBody("Running"),
    jobBody("Running"),
    jobBody("Completed"),
  ]);
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: 0.9912, test_loss: 0.03 });
  const r = await wait(["--min-accuracy", "0.98"]);
  expect(r.stderr).toContain(`studio: ${STUDIO}`);
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({
    jobName: JOB,
    status: "Completed",
    testAccuracy: 0.9912,
    studioUrl: STUDIO,
  });
  expect(typeof r.json!.elapsedSeconds).toBe("number");
  const order = ["NotStarted", "Queued", "Running", "Completed"].map((s) => r.stderr.indexOf(`] ${s}`));
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  expect(r.stderr.match(/\] Queued/g)).toHaveLength(1);
});

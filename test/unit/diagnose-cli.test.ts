/** CLI usage of `diagnose` (the run itself is covered on the bed: test/integration/diagnose-bed.test.ts). */
import { expect, it } from "vitest";
import { runCli } from "../../src/cli/main";

async function cli(args: string[], env: Record<string, string> = { AWS_REGION: "us-east-1" }) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, { env, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), readStdin: async () => "" });
  return { code, stdout, stderr };
}

it.each([
  [["diagnose", "--registry", "123456789012.dkr.ecr.us-east-1.amazonaws.com"], /--registry is not an option of diagnose/],
  [["diagnose", "--dry-run"], /diagnose is read-only/],
  [["diagnose", "--force"], /diagnose is read-only/],
  [["diagnose"], /needs a cluster: none is configured \(EKS_CLUSTERS\)/],
  [["diagnose", "--namespace", "Bad_NS"], /namespace/],
])("%j → exit 2 with a precise message", async (args, message) => {
  const out = await cli(args);
  expect(out.code).toBe(2);
  expect(out.stderr).toMatch(message);
});

it("the usage text lists diagnose", async () => {
  const out = await cli(["--help"]);
  expect(out.stdout).toMatch(/diagnose\s+say why each pod stuck in ErrImagePull\/ImagePullBackOff/);
});

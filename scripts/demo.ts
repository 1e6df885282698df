/**
 * The demo: a real rotation against a local moto server (real HTTP, real SDK serialisation).
 * moto's ECR token carries a fixed expiry in the past (2015-01-01), so the demo's clock is set
 * to just after that token was "issued" — the product's expiry check stays as strict as in AWS.
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createApp } from "../src/app/app";
import { formatReport } from "../src/report/report";
import { runRequest } from "../src/run/run";
import { parseManualRequest } from "../src/request/triggers";
import { parseDockerConfig } from "../src/formats/dockerconfig";
import { describeSecretValueProblem, parseSecretValue } from "../src/formats/secret-value";
import { motoEnv, startMoto } from "../test/support/moto";

const REGISTRIES = [
  "123456789012.dkr.ecr.us-east-1.amazonaws.com",
  "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
  "210987654321.dkr.ecr.us-east-1.amazonaws.com",
];

function redact(secretString: string, secrets: string[]): string {
  let text = secretString;
  for (const s of secrets) if (s) text = text.split(s).join("<redacted>");
  return text;
}

async function main(): Promise<void> {
  process.stdout.write("starting moto (local AWS emulator)... ");
  const moto = await startMoto();
  console.log(moto.url);
  try {
    const env = {
      ...motoEnv(moto.url),
      ECR_REGISTRIES: REGISTRIES.join(","),
      SECRET_NAME: "ecr/{account}/{region}/credentials",
      COMBINED_SECRET_NAME: "ecr/all-registries",
      SECRET_TAGS: "team=platform",
    };
    Object.assign(process.env, env);

    const probe = await new ECRClient({ region: "us-east-1" }).send(new GetAuthorizationTokenCommand({}));
    const expiresAt = probe.authorizationData?.[0]?.expiresAt ?? new Date("2015-01-01T00:00:00Z");
    const issuedAt = new Date(expiresAt.getTime() - 12 * 3600_000 + 60_000);
    console.log(`moto's ECR token expires at ${expiresAt.toISOString()}: the demo's clock starts at ${issuedAt.toISOString()}\n`);
    let offset = 0;
    // The clock the token's expiry is judged against; debouncing uses the real clock, like moto's dates.
    const now = () => new Date(issuedAt.getTime() + offset);

    const app = createApp(env, { tokenNow: now });
    // The captions are the commands a user types (--now only because moto's tokens expired in 2015).
    const at = () => `--now ${now().toISOString()}`;
    const exports = Object.entries(env).filter(([k]) => !k.startsWith("AWS_"));
    console.log(`$ export ${exports.map(([k, v]) => `${k}=${v}`).join(" ")}`);
    console.log(`$ ecr-token-rotator rotate ${at()}   # --now: moto's token carries a fixed 2015 expiry; not needed against AWS`);
    const first = await runRequest(parseManualRequest({ action: "rotate" }, "cli"), app.config, app.deps);
    console.log(formatReport(first), "\n");

    const sm = new SecretsManagerClient({ region: "us-east-1" });
    const stored = await sm.send(new GetSecretValueCommand({ SecretId: "ecr/123456789012/us-east-1/credentials" }));
    const check = parseSecretValue(stored.SecretString ?? "", "registry", REGISTRIES[0]);
    if (!check.ok) throw new Error(`the stored secret is not the product's value: ${describeSecretValueProblem(check.problem)}`);
    const value = check.stored.value;
    const auths = value.dockerconfigjson === undefined ? {} : parseDockerConfig(value.dockerconfigjson).auths;
    const secrets = [value.auth_token, ...Object.values(auths).map((e) => e.auth ?? "")];
    console.log("stored secret ecr/123456789012/us-east-1/credentials (token redacted):");
    console.log(redact(JSON.stringify(value, null, 2), secrets), "\n");

    offset = 5 * 60_000;
    console.log(`$ ecr-token-rotator rotate ${at()}   # again: the same token is already stored, so no new version`);
    console.log(formatReport(await runRequest(parseManualRequest({ action: "rotate" }, "cli"), app.config, app.deps)), "\n");

    offset = 10 * 3600_000;
    console.log(`$ ecr-token-rotator rotate --dry-run --registry ${REGISTRIES[1]} ${at()}   # 10 hours later`);
    console.log(
      formatReport(await runRequest(parseManualRequest({ action: "rotate", dryRun: true, registries: [REGISTRIES[1]] }, "cli"), app.config, app.deps)),
    );
    process.exitCode = first.ok ? 0 : 1;
  } finally {
    await moto.stop();
  }
}

await main();

/**
 * ESO re-sync latency: how long after the heal's write (its force-sync annotation on the
 * ExternalSecret) the real External Secrets Operator controller has the new token in the pull
 * Secret. Test bed + ESO (startBed({ eso })), moto, the product as its CLI bundle (dist/).
 *
 *   npm run bench  (or: node .bench/eso-sync.mjs after one npm run bench) [--json] [--runs 5]
 *
 * Setup (untimed): bed + ESO + moto, the first rotation, the seed's ClusterSecretStore and
 * ExternalSecret (infra/k8s, unchanged) synced. Each run: ECR issues a new token, `rotate --force`
 * stores it (untimed), then `heal --namespace bench` with ESO_RESYNC. Timed, by one watch on the
 * API server: the ExternalSecret event carrying the heal's force-sync annotation → the Secret
 * event carrying the new token. Baseline, same bed, same number of runs: the same re-sync
 * started by hand (`kubectl annotate externalsecret … force-sync=…`, ESO's documented way).
 * Prints medians and every run; asserts nothing.
 */
import { randomBytes } from "node:crypto";
import { passwordFor, secretState, startEsoWorld, watch, type EsoWorld } from "../test/support/eso-chain";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}
const JSON_OUT = process.argv.includes("--json");
const RUNS = arg("runs", 5);
const NS = "bench";
const log = (msg: string): void => {
  (JSON_OUT ? process.stderr : process.stdout).write(`${msg}\n`);
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number) => Math.round(x * 10) / 10;

/** One re-sync: new token stored, then `trigger()` writes the annotation; ms from that write to ESO's. */
async function oneRun(world: EsoWorld, trigger: () => Promise<void>): Promise<number> {
  const token = `bench-${randomBytes(12).toString("hex")}`;
  world.ecr.issue(token);
  const rotated = await world.cli(["rotate", "--force"]);
  if (!rotated.ok) throw new Error(`rotate failed: ${JSON.stringify(rotated.errors)}`);
  const es = await watch(world.bed, `/apis/external-secrets.io/v1/namespaces/${NS}/externalsecrets`, "metadata.name=ecr-pull-secret");
  const secret = await watch(world.bed, `/api/v1/namespaces/${NS}/secrets`, "metadata.name=ecr-pull-secret");
  try {
    const initial = es.events.at(-1)?.object.metadata.annotations?.["force-sync"];
    await trigger();
    const annotated = await es.until((e) => e.object.metadata.annotations?.["force-sync"] !== initial, 20_000, "the force-sync annotation");
    const synced = await secret.until((e) => passwordFor(secretState(e.object).data[".dockerconfigjson"]) === token, 60_000, "ESO to write the new token");
    return synced.at - annotated.at;
  } finally {
    es.close();
    secret.close();
  }
}

async function main(): Promise<void> {
  log("eso sync: starting the test bed with the External Secrets Operator and moto...");
  const world = await startEsoWorld();
  try {
    await world.bed.createNamespace(NS);
    await world.applyFile("infra/k8s/external-secret.yaml", NS);
    await world.esoSecret(NS, "ecr-pull-secret");
    const heal: number[] = [];
    const manual: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      heal.push(
        await oneRun(world, async () => {
          const report = await world.cli(["heal", "--cluster", world.bed.clusterName, "--namespace", NS], {
            ESO_RESYNC: "ecr-token-rotator/resync=true",
            PULL_SECRET_NAME: "ecr-fallback-pull-secret",
          });
          if (!report.ok) throw new Error(`heal failed: ${JSON.stringify(report.errors)}`);
        }),
      );
      manual.push(
        await oneRun(world, async () => {
          await world.bed.kubectl(["-n", NS, "annotate", "externalsecret", "ecr-pull-secret", `force-sync=${Date.now()}`, "--overwrite"], { check: true });
        }),
      );
      log(`  run ${i + 1}/${RUNS}: heal → ESO ${round(heal.at(-1)!)} ms; by hand → ESO ${round(manual.at(-1)!)} ms`);
    }
    const esoSync = {
      ms: round(median(heal)),
      runs: heal.map(round),
      eso: world.bed.eso?.version,
      baseline: { what: "kubectl annotate force-sync by hand", ms: round(median(manual)), runs: manual.map(round) },
    };
    if (JSON_OUT) process.stdout.write(`${JSON.stringify({ esoSync })}\n`);
    else log(`eso sync (median of ${RUNS}): heal's write → ESO's update ${esoSync.ms} ms; baseline, the same re-sync by hand: ${esoSync.baseline.ms} ms`);
  } finally {
    await world.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`eso sync bench FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

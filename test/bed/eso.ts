// The real External Secrets Operator controller as a bed process (startBed({ eso: ... })).
//
// Built from the Go module proxy by scripts/build-eso.sh (release pinned by test/bed/eso/go.mod)
// and run under the bed's supervisor like etcd and kube-apiserver:
//   - identity: ServiceAccount external-secrets/external-secrets (token from the TokenRequest
//     API), authorised by ESO's own controller ClusterRole (test/bed/eso/rbac.yaml), talking to
//     the API server directly (not through the fault proxy, whose counters are the product's);
//   - AWS: AWS_SECRETSMANAGER_ENDPOINT and AWS_STS_ENDPOINT (read by ESO's AWS provider,
//     pkg/provider/aws/auth/resolver.go) point at moto; no AWS credentials in its environment,
//     so a store must bring its own (auth.secretRef, or auth.jwt through moto's STS);
//   - left out: the admission webhook and the cert-controller (they validate objects and manage
//     the webhook's certificate; the reconcilers do not need them), metrics (--metrics-addr=0),
//     leader election (one replica).
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export interface EsoOptions {
  /** AWS endpoint for Secrets Manager and STS (moto's URL). Unset: ESO's default endpoints. */
  awsEndpoint?: string;
  /** Extra controller flags (e.g. "--loglevel=debug"). */
  args?: string[];
}

export interface EsoController {
  /** The ESO release running (e.g. "v0.16.2"). */
  version: string;
  /** Its log (JSON lines). */
  logFile: string;
  log(): string;
  /** Kubernetes username it acts as. */
  identity: string;
  running(): boolean;
}

export const ESO_RBAC_MANIFEST = "test/bed/eso/rbac.yaml";
export const ESO_SERVICE_ACCOUNT = { namespace: "external-secrets", name: "external-secrets" };
/** Controllers whose "Starting workers" line means ESO is ready for the bed's tests. */
export const ESO_CLIENT_CONTROLLERS = ["externalsecret", "clusterexternalsecret", "clustersecretstore"];

/** Builds (first time) or finds (cached) the ESO controller and its release's CRDs. */
export function ensureEsoBinaries(root: string): { binary: string; crds: string; version: string } {
  const res = spawnSync("sh", [join(root, "scripts", "build-eso.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (res.status !== 0) throw new Error(`scripts/build-eso.sh failed (exit ${res.status}); see its messages above`);
  const kv: Record<string, string> = {};
  for (const line of res.stdout.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]!] = m[2]!;
  }
  const need = (k: string) => {
    const v = kv[k];
    if (!v) throw new Error(`scripts/build-eso.sh printed no ${k}= line`);
    return v;
  };
  return { binary: need("ESO"), crds: need("ESO_CRDS"), version: need("ESO_VERSION") };
}

export function esoArgs(options: EsoOptions): string[] {
  return ["--metrics-addr=0", "--loglevel=info", "--zap-time-encoding=iso8601", ...(options.args ?? [])];
}

/** A clean environment: nothing of the test process's AWS settings leaks into the controller. */
export function esoEnv(options: EsoOptions, where: { kubeconfig: string; home: string; region: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: where.home,
    KUBECONFIG: where.kubeconfig,
    AWS_REGION: where.region,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  };
  if (options.awsEndpoint) {
    env.AWS_SECRETSMANAGER_ENDPOINT = options.awsEndpoint;
    env.AWS_STS_ENDPOINT = options.awsEndpoint;
  }
  return env;
}

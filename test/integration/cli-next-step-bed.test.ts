/**
 * Every failure says the next step (issue 13 §3), asserted on the real kube-apiserver bed through
 * the CLI: `eks-token --check` (SelfSubjectReview: who the cluster thinks we are, or why it
 * refused), a 401 names its likely causes, an unreachable endpoint names the URL and the network
 * error, conflict rows say how to resolve, a namespace that failed after retries gets the exact
 * re-run command, a cluster the diagnosis cannot read is said once, and under namespace-confined
 * RBAC with an explicit namespace list the diagnosis reads those namespaces.
 */
import { execFile } from "node:child_process";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../src/report/report";
import { DEFAULT_IDENTITIES, startBed, type Bed } from "../bed/index";
import { PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { productEnvForBed } from "../support/bed-env";
import { startMoto, type MotoServer } from "../support/moto";
import { reservePort } from "../support/ports";
import { distEnv } from "../support/dist";

let bed: Bed;
let moto: MotoServer;
const CONFINED = {
  accessKeyId: "AKIACONFINEDTESTKEY1",
  secretAccessKey: "confined-test-secret-key",
  arn: "arn:aws:iam::123456789012:role/oncall-confined",
  username: "oncall-confined",
  groups: ["oncall-confined"],
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as an operator runs it (bin → dist/cli.mjs), in its own process: its AWS credentials are its environment's. */
function cli(args: string[], extra: Record<string, string> = {}): Promise<Run> {
  const env = { PATH: process.env.PATH ?? "", ...distEnv(), ...productEnvForBed(bed, moto, extra) };
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/ecr-token-rotator.mjs", ...args], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const tokenClock = (): string => new Date(Date.UTC(2014, 11, 31, 12, 30)).toISOString(); // moto's tokens expire 2015-01-01

beforeAll(async () => {
  [bed, moto] = await Promise.all([startBed({ rbacManifests: PRODUCT_MANIFESTS, identities: { confined: CONFINED } }), startMoto()]);
  for (const ns of ["conf-a", "conf-b", "foreign", "flaky"]) await bed.createNamespace(ns);
  // A pull Secret someone else manages (no managed-by label).
  await bed.kubectl(
    ["-n", "foreign", "create", "secret", "docker-registry", "ecr-pull-secret", "--docker-server=ghcr.io", "--docker-username=u", "--docker-password=not-ours"],
    { check: true },
  );
  // Namespace-confined RBAC: the on-call role may read conf-a only.
  const role = {
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "diagnose", namespace: "conf-a" },
        rules: [{ apiGroups: [""], resources: ["pods", "events", "secrets", "serviceaccounts"], verbs: ["get", "list"] }],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "diagnose", namespace: "conf-a" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "diagnose" },
        subjects: [{ kind: "Group", name: "oncall-confined", apiGroup: "rbac.authorization.k8s.io" }],
      },
    ],
  };
  await bed.kubectl(["apply", "-f", "-"], { check: true, input: JSON.stringify(role) });
  // A pod stuck pulling in conf-a: its pull secret does not exist.
  await bed.kubectl(["apply", "-f", "-"], {
    check: true,
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "app", namespace: "conf-a" },
      spec: {
        automountServiceAccountToken: false,
        imagePullSecrets: [{ name: "nope" }],
        containers: [{ name: "app", image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1" }],
      },
    }),
  });
  const status = {
    status: {
      phase: "Pending",
      containerStatuses: [
        {
          name: "app",
          image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image" } },
        },
      ],
    },
  };
  await bed.kubectl(["-n", "conf-a", "patch", "pod", "app", "--subresource=status", "--type=merge", "-p", JSON.stringify(status)], { check: true });
}, 600_000);

afterAll(async () => {
  await Promise.all([bed?.stop(), moto?.stop()]);
});

beforeEach(async () => {
  bed.proxy.reset();
});

describe("eks-token --check asks the cluster", () => {
  it("says who the cluster thinks we are (exit 0), and what the command acts on first", async () => {
    const out = await cli(["eks-token", "--check", "--cluster", bed.clusterName]);
    expect(out.code).toBe(0);
    expect(out.stderr.split("\n")[0]).toBe(
      `eks-token: cluster ${bed.clusterName} in us-east-1 at ${bed.proxyUrl}; identity: your AWS credentials; configuration: this shell's environment`,
    );
    expect(out.stdout).toContain(
      `cluster ${bed.clusterName} (us-east-1) at ${bed.proxyUrl} accepts the token: it knows you as "ecr-token-rotator" (IAM arn:aws:sts::123456789012:assumed-role/ecr-token-rotator/`,
    );
    expect(out.stdout).toContain("groups: ecr-token-rotator, system:authenticated");
    expect(out.stdout).not.toContain("k8s-aws-v1.");
  });

  it("a wrong secret key: plain eks-token still prints a token (exit 0), --check says the cluster refused it and why (exit 1)", async () => {
    const wrong = { AWS_SECRET_ACCESS_KEY: "not-the-key" };
    expect((await cli(["eks-token", "--cluster", bed.clusterName], wrong)).code).toBe(0);
    const out = await cli(["eks-token", "--check", "--cluster", bed.clusterName], wrong);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(
      `cluster ${bed.clusterName} (us-east-1) at ${bed.proxyUrl} refused the token (401 Unauthorized); likely causes: no access entry`,
    );
    expect(out.stderr).toContain("the token was signed for another cluster name");
    expect(out.stderr).toContain("clock");
    expect(out.stdout).toBe("");
    expect(out.stdout + out.stderr).not.toContain("not-the-key");
  });

  it("a cluster that does not exist: --check says so (DescribeCluster), plain eks-token does not notice", async () => {
    expect((await cli(["eks-token", "--cluster", "no-such-cluster", "--region", "us-east-1"])).code).toBe(0);
    const out = await cli(["eks-token", "--check", "--cluster", "no-such-cluster", "--region", "us-east-1"]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("EKS cluster no-such-cluster (us-east-1) does not exist");
  });

  it("the unknown identity of another role: 401 with the likely causes", async () => {
    const out = await cli(["eks-token", "--check", "--cluster", bed.clusterName], {
      AWS_ACCESS_KEY_ID: "AKIAUNKNOWNTESTKEY01",
      AWS_SECRET_ACCESS_KEY: "whatever",
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/refused the token \(401 Unauthorized\); likely causes: no access entry \(or aws-auth mapping\) for this IAM role/);
  });
});

describe("heal: every failure says the next step", () => {
  it("a conflict row says how to resolve it", async () => {
    const out = await cli(["heal", "--namespace", "foreign", "--now", tokenClock()]);
    // A conflict is a configuration state no retry can change: reported, never written, not a failed run.
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/test-cluster\/foreign\s+conflict\s+Secret foreign\/ecr-pull-secret is not labelled/);
    expect(out.stdout).toContain(
      "to resolve: set ADOPT_EXISTING_PULL_SECRETS=true to take it over, or ask its owner (kubectl -n foreign get secret ecr-pull-secret -o yaml",
    );
  });

  it("a namespace that failed after retries gets the exact re-run command", async () => {
    bed.proxy.addFault({ match: { path: "/api/v1/namespaces/flaky/secrets**" }, fault: { kind: "status", status: 503 } });
    const out = await cli(["heal", "--namespace", "flaky", "--namespace", "conf-b", "--now", tokenClock()]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/test-cluster\/flaky\s+failed\s+HTTP 503/);
    expect(out.stdout).toContain(`re-run the failed namespace of ${bed.clusterName}: ecr-token-rotator heal --cluster ${bed.clusterName} --namespace flaky`);
  });

  it("a 401 from the cluster names the likely causes", async () => {
    const out = await cli(["heal", "--now", tokenClock()], { AWS_SECRET_ACCESS_KEY: "not-the-key" });
    expect(out.code).toBe(1);
    expect(out.stdout).toContain("unauthorized (401): the bearer token was rejected on list namespaces cluster-wide; likely causes: no access entry");
  });

  it("an unreachable endpoint names the URL and the network error (never an empty KubeApiError)", async () => {
    const port = await reservePort(); // nothing listens there
    const clusters = JSON.stringify([{ name: bed.clusterName, region: "us-east-1", endpoint: `https://127.0.0.1:${port}`, caData: bed.caData }]);
    const out = await cli(["heal", "--json", "--now", tokenClock()], { EKS_CLUSTERS: clusters });
    const report = JSON.parse(out.stdout) as Report;
    const error = report.kubernetes!.clusters[0]!.error!;
    expect(error).toContain(`network error (ECONNREFUSED)`);
    expect(error).toContain(`could not reach https://127.0.0.1:${port} (ECONNREFUSED)`);
    const diagnose = await cli(["diagnose"], { EKS_CLUSTERS: clusters });
    expect(diagnose.stdout).toContain(`diagnosis (${bed.clusterName}): could not read the cluster: could not reach https://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(out.stdout + diagnose.stdout + diagnose.stderr).not.toMatch(/KubeApiError: ?(\n|$)/);
  });
});

describe("diagnose without cluster-wide read access", () => {
  it("a cluster it cannot read (403) is said once, with no claim about stuck containers", async () => {
    const nobody = DEFAULT_IDENTITIES.nobody;
    const out = await cli(["diagnose"], { AWS_ACCESS_KEY_ID: nobody.accessKeyId, AWS_SECRET_ACCESS_KEY: nobody.secretAccessKey });
    expect(out.code).toBe(1);
    expect(out.stdout).toContain(`diagnosis (${bed.clusterName}): could not read the cluster: forbidden (403) to list namespaces cluster-wide`);
    expect(out.stdout.match(/forbidden \(403\)/g)).toHaveLength(1);
    expect(out.stdout).not.toContain("no container stuck");
  });

  it("namespace-confined RBAC with an explicit namespace list: reads those namespaces and diagnoses", async () => {
    const creds = { AWS_ACCESS_KEY_ID: CONFINED.accessKeyId, AWS_SECRET_ACCESS_KEY: CONFINED.secretAccessKey };
    const wide = await cli(["diagnose"], creds);
    expect(wide.stdout).toContain("could not read the cluster: forbidden (403)");
    expect(wide.stdout).toContain("with namespace-confined RBAC, name the namespaces (--namespace N, or TARGET_NAMESPACES)");
    const out = await cli(["diagnose", "--namespace", "conf-a", "--json"], creds);
    expect(out.code).toBe(0);
    const diagnosis = (JSON.parse(out.stdout) as Report).kubernetes!.clusters[0]!.diagnosis!;
    expect(diagnosis.unreadable).toBeUndefined();
    expect(diagnosis.notes).toEqual(["cluster-wide lists are forbidden (namespace-confined RBAC): read the namespaces conf-a one by one"]);
    expect(diagnosis.stuck.map((s) => [`${s.namespace}/${s.pod}`, s.causes.map((c) => c.code)])).toEqual([["conf-a/app", ["pull-secret-not-found"]]]);
    // Other namespaces could not be looked at: the cause claims nothing about them.
    expect(diagnosis.stuck[0]!.causes[0]!.message).toBe('imagePullSecret "nope" does not exist in namespace conf-a');
    expect(diagnosis.errors).toBeUndefined();
  });
});

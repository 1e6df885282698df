import type { ClusterTarget } from "../../src/kube/apply";

/** Shared test values. The password is distinctive so redaction tests can search for it. */
export const PASSWORD = "S3cr3t-ECR-p4ssw0rd:with-colon-and-more-entropy-7f3a";
export const USERNAME = "AWS";
export const RAW_TOKEN = Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64");
export const AUTH = RAW_TOKEN; // base64("AWS:<password>") is both the raw ECR token and the docker `auth` field

export const HOST_USE1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
export const HOST_EUW1 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
export const HOST_OTHER_ACCOUNT_USE1 = "210987654321.dkr.ecr.us-east-1.amazonaws.com";

/** A clock at a fixed instant, and a token expiring 12 h after it. */
export const NOW = new Date("2026-11-24T08:00:00.000Z");
export const EXPIRES = new Date(NOW.getTime() + 12 * 3600_000);

export function authorizationData(region: string, opts: { token?: string; expiresAt?: Date; account?: string } = {}) {
  return {
    authorizationToken: opts.token ?? RAW_TOKEN,
    expiresAt: opts.expiresAt ?? EXPIRES,
    proxyEndpoint: `https://${opts.account ?? "123456789012"}.dkr.ecr.${region}.amazonaws.com`,
  };
}

/** Every rendering of the secret the tests must never find in output. */
export function secretNeedles(password = PASSWORD, username = USERNAME): string[] {
  const auth = Buffer.from(`${username}:${password}`).toString("base64");
  return [password, auth, JSON.stringify({ username, password, auth }).slice(1, -1)];
}

/** A cluster target for applyToCluster: every namespace, the default pull secret name, no ServiceAccounts patched; `over` changes any of it. */
export const clusterTarget = (over: Partial<ClusterTarget> = {}): ClusterTarget => ({
  cluster: "test",
  namespaces: { mode: "all", exclude: [] },
  pullSecretName: "ecr-pull-secret",
  patchServiceAccounts: [],
  concurrency: 4,
  adoptUnmanaged: false,
  dryRun: false,
  ...over,
});

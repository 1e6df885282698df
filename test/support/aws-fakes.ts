/**
 * The AWS seams for tests, in one place: in-memory fakes of the product's ports (EcrApi,
 * SecretsApi: empty, or a small stateful Secrets Manager), and the SDK mocks (aws-sdk-client-mock) with the answers most tests start
 * from. Not used by the product.
 */
import { ECRClient } from "@aws-sdk/client-ecr";
import { ResourceNotFoundException, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import type { EcrApi } from "../../src/rotation/ecr";
import type { CurrentSecretValue, SecretsApi } from "../../src/rotation/secrets-manager";
import { authorizationData, NOW } from "./fixtures";

/** An EcrApi answering every region with a fresh token (fixtures.authorizationData); counts calls. */
export function memoryEcr(): EcrApi & { calls: () => number } {
  let calls = 0;
  return {
    getAuthorizationToken: async (region) => {
      calls++;
      return [authorizationData(region)];
    },
    calls: () => calls,
  };
}

/** A SecretsApi with no secret stored: every write creates (or puts), and is reported to `onWrite`. */
export function emptySecrets(onWrite: (op: "create" | "put", name: string) => void = () => {}): SecretsApi {
  return {
    describe: async () => undefined,
    getCurrent: async () => undefined,
    create: async ({ name }) => (onWrite("create", name), { versionId: "v1" }),
    put: async ({ name }) => (onWrite("put", name), { versionId: "v2" }),
    tag: async () => {},
    getResourcePolicy: async () => undefined,
    putResourcePolicy: async () => {},
    replicate: async () => [],
  };
}

/** A secret of {@link memorySecrets}: its tags and current version. */
export interface StoredSecret {
  tags: Record<string, string>;
  current?: CurrentSecretValue;
}

/**
 * An in-memory Secrets Manager with the product's calls: a CreateSecret of an existing name
 * throws ResourceExistsException, versions are `v1`, `v2`, … created at `now`, and every write
 * is recorded in `writes` (`create NAME`, `put NAME`, `tag NAME`).
 */
export function memorySecrets(initial: Record<string, StoredSecret> = {}, now: Date = NOW) {
  const secrets = new Map(Object.entries(initial));
  const writes: string[] = [];
  let version = 0;
  const api: SecretsApi = {
    describe: async (name) => {
      const s = secrets.get(name);
      return s && { arn: `arn:${name}`, tags: { ...s.tags }, hasCurrentVersion: s.current !== undefined, deletedDate: undefined, replication: [] };
    },
    getCurrent: async (name) => secrets.get(name)?.current,
    create: async ({ name, secretString, tags }) => {
      writes.push(`create ${name}`);
      if (secrets.has(name)) throw Object.assign(new Error(`the secret ${name} already exists`), { name: "ResourceExistsException" });
      const versionId = `v${++version}`;
      secrets.set(name, { tags, current: { secretString, hasBinary: false, versionId, createdDate: now } });
      return { versionId };
    },
    put: async ({ name, secretString }) => {
      writes.push(`put ${name}`);
      const versionId = `v${++version}`;
      secrets.get(name)!.current = { secretString, hasBinary: false, versionId, createdDate: now };
      return { versionId };
    },
    tag: async (name) => void writes.push(`tag ${name}`),
    getResourcePolicy: async () => undefined,
    putResourcePolicy: async () => {},
    replicate: async () => [],
  };
  return { api, writes, secrets };
}

/** The product's ownership tag, as DescribeSecret returns it for a secret the product owns. */
export const OWNED_TAGS = [{ Key: "ecr-token-rotator:managed", Value: "true" }];

/** Secrets Manager's answer for a secret that does not exist. */
export const secretNotFound = (message = "Secrets Manager can't find the specified secret.") => new ResourceNotFoundException({ message, $metadata: {} });

/** Mocks of the ECR and Secrets Manager SDK clients (every client instance, in every region). */
export function mockAwsSdk() {
  return { ecr: mockClient(ECRClient), sm: mockClient(SecretsManagerClient) };
}

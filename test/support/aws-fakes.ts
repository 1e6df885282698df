/**
 * The AWS seams for tests, in one place: one-function in-memory fakes of the product's ports
 * (EcrApi, SecretsApi), and the SDK mocks (aws-sdk-client-mock) with the answers most tests start
 * from. Not used by the product.
 */
import { ECRClient } from "@aws-sdk/client-ecr";
import { ResourceNotFoundException, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import type { EcrApi } from "../../src/rotation/ecr";
import type { SecretsApi } from "../../src/rotation/secrets-manager";
import { authorizationData } from "./fixtures";

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

/** The product's ownership tag, as DescribeSecret returns it for a secret the product owns. */
export const OWNED_TAGS = [{ Key: "ecr-token-rotator:managed", Value: "true" }];

/** Secrets Manager's answer for a secret that does not exist. */
export const secretNotFound = (message = "Secrets Manager can't find the specified secret.") => new ResourceNotFoundException({ message, $metadata: {} });

/** Mocks of the ECR and Secrets Manager SDK clients (every client instance, in every region). */
export function mockAwsSdk() {
  return { ecr: mockClient(ECRClient), sm: mockClient(SecretsManagerClient) };
}

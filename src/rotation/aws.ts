/**
 * The one place where the rotation's AWS SDK clients are created. Standard SDK environment
 * variables apply (AWS_REGION, credentials chain, AWS_ENDPOINT_URL for the local emulator).
 * Clients are kept across warm invocations; the adapters are made per invocation, bound to its
 * deadline (every call has a total timeout: src/shared/sdk-call.ts).
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Deadline } from "../shared/deadline";
import { SDK_CLIENT_OPTIONS, sdkSend } from "../shared/sdk-call";
import type { EcrApi } from "./ecr";
import { sdkSecretsApi, type SecretsApi } from "./secrets-manager";

const ecrClients = new Map<string, ECRClient>();

function ecrClient(region: string): ECRClient {
  let client = ecrClients.get(region);
  if (client === undefined) {
    client = new ECRClient({ region, ...SDK_CLIENT_OPTIONS });
    ecrClients.set(region, client);
  }
  return client;
}

/**
 * Creates the ECR clients of these regions now — at cold start, like the Secrets Manager client —
 * rather than in the first invocation (constructing a client costs it milliseconds).
 */
export function prepareEcrClients(regions: Iterable<string>): void {
  for (const region of regions) ecrClient(region);
}

export function sdkEcrApi(deadline?: Deadline): EcrApi {
  return {
    async getAuthorizationToken(region) {
      const ecr = ecrClient(region);
      const out = await sdkSend(deadline, "ECR GetAuthorizationToken", (options) => ecr.send(new GetAuthorizationTokenCommand({}), options));
      return out.authorizationData ?? [];
    },
    async getPublicAuthorizationToken() {
      // Loaded only when public.ecr.aws is configured: the rotate path never carries it otherwise.
      const { ecrPublicAuthorizationToken } = await import("./ecr-public");
      return ecrPublicAuthorizationToken(deadline);
    },
  };
}

let secretsClient: SecretsManagerClient | undefined;

export function sdkSecretsManagerApi(region: string | undefined, deadline?: Deadline): SecretsApi {
  secretsClient ??= new SecretsManagerClient({ ...SDK_CLIENT_OPTIONS, ...(region ? { region } : {}) });
  return sdkSecretsApi(secretsClient, deadline);
}

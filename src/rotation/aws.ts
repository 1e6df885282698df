/**
 * The one place where AWS SDK clients are created. Standard SDK environment variables apply
 * (AWS_REGION, credentials chain, AWS_ENDPOINT_URL for the local emulator).
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { EcrApi } from "./ecr";
import { sdkSecretsApi, type SecretsApi } from "./secrets-manager";

const ecrClients = new Map<string, ECRClient>();

export function sdkEcrApi(): EcrApi {
  return {
    async getAuthorizationToken(region) {
      let client = ecrClients.get(region);
      if (client === undefined) {
        client = new ECRClient({ region, maxAttempts: 4 });
        ecrClients.set(region, client);
      }
      const out = await client.send(new GetAuthorizationTokenCommand({}));
      return out.authorizationData ?? [];
    },
    async getPublicAuthorizationToken() {
      // Loaded only when public.ecr.aws is configured: the rotate path never carries it otherwise.
      const { ecrPublicAuthorizationToken } = await import("./ecr-public");
      return ecrPublicAuthorizationToken();
    },
  };
}

let secretsClient: SecretsManagerClient | undefined;

export function sdkSecretsManagerApi(region: string | undefined): SecretsApi {
  secretsClient ??= new SecretsManagerClient({ maxAttempts: 4, ...(region ? { region } : {}) });
  return sdkSecretsApi(secretsClient);
}

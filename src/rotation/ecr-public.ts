/**
 * ECR Public's GetAuthorizationToken through `@aws-sdk/client-ecr-public`. A module of its own
 * so the SDK client is a separate chunk, imported (src/rotation/aws.ts) only when
 * `public.ecr.aws` is configured. The API exists in us-east-1 only; the caller needs
 * `ecr-public:GetAuthorizationToken` and `sts:GetServiceBearerToken`.
 */
import { ECRPUBLICClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr-public";
import { ECR_PUBLIC_REGION } from "../formats/registry-host";
import type { PublicAuthorizationData } from "./ecr";

let client: ECRPUBLICClient | undefined;

export async function ecrPublicAuthorizationToken(): Promise<PublicAuthorizationData> {
  client ??= new ECRPUBLICClient({ region: ECR_PUBLIC_REGION, maxAttempts: 4 });
  const out = await client.send(new GetAuthorizationTokenCommand({}));
  return { authorizationToken: out.authorizationData?.authorizationToken, expiresAt: out.authorizationData?.expiresAt };
}

/**
 * ECR Public's GetAuthorizationToken through `@aws-sdk/client-ecr-public`. A module of its own
 * so the SDK client is a separate chunk, imported (src/rotation/aws.ts) only when
 * `public.ecr.aws` is configured. The API exists in us-east-1 only; the caller needs
 * `ecr-public:GetAuthorizationToken` and `sts:GetServiceBearerToken`.
 */
import { ECRPUBLICClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr-public";
import { ECR_PUBLIC_REGION } from "../formats/registry-host";
import type { Deadline } from "../shared/deadline";
import { SDK_CLIENT_OPTIONS, sdkSend } from "../shared/sdk-call";
import type { PublicAuthorizationData } from "./ecr";

let client: ECRPUBLICClient | undefined;

/** One GetAuthorizationToken call, ending by `deadline` (and with its own total timeout). */
export async function ecrPublicAuthorizationToken(deadline?: Deadline): Promise<PublicAuthorizationData> {
  const ecrPublic = (client ??= new ECRPUBLICClient({ region: ECR_PUBLIC_REGION, ...SDK_CLIENT_OPTIONS }));
  const out = await sdkSend(deadline, "ECR Public GetAuthorizationToken", (options) => ecrPublic.send(new GetAuthorizationTokenCommand({}), options));
  return { authorizationToken: out.authorizationData?.authorizationToken, expiresAt: out.authorizationData?.expiresAt };
}

/**
 * `--function NAME`: the CLI acts with the deployed function's configuration. Its environment and
 * region come from `lambda:GetFunctionConfiguration` (the code is never fetched or run); product
 * variables set where the CLI runs override the function's one by one, and the merge says which.
 *
 * Loaded only by the CLI (a dynamic import from ./main): @aws-sdk/client-lambda never enters the
 * Lambda handler's bundle.
 */
import { GetFunctionConfigurationCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { deadlineIn, type Deadline } from "../shared/deadline";
import { describeError } from "../shared/errors";
import { SDK_CLIENT_OPTIONS, sdkSend } from "../shared/sdk-call";

/** GetFunctionConfiguration (its retries included) ends by then: the CLI's first step must not hang. */
export const FUNCTION_CONFIG_TIMEOUT_MS = 30_000;

type Env = Record<string, string | undefined>;

export interface FunctionConfiguration {
  functionName: string;
  functionArn: string;
  region: string;
  accountId: string;
  /** The function's environment variables (Environment.Variables). */
  variables: Record<string, string>;
}

/** The narrow Lambda port: one GetFunctionConfiguration call. */
export type GetFunctionConfigurationFn = (
  functionName: string,
  region: string,
) => Promise<{ FunctionArn?: string; FunctionName?: string; Environment?: { Variables?: Record<string, string> } }>;

export class FunctionConfigError extends Error {
  override readonly name = "FunctionConfigError";
}

const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([^:]+)(:[^:]+)?$/;

/**
 * The SDK's GetFunctionConfiguration with the total timeouts and retry policy every SDK client of
 * the product has, bounded by `deadline` (default {@link FUNCTION_CONFIG_TIMEOUT_MS} from the call).
 */
export function sdkGetFunctionConfiguration(deadline?: Deadline): GetFunctionConfigurationFn {
  const clients = new Map<string, LambdaClient>();
  return async (functionName, region) => {
    let client = clients.get(region);
    if (client === undefined) {
      client = new LambdaClient({ region, ...SDK_CLIENT_OPTIONS });
      clients.set(region, client);
    }
    return sdkSend(deadline ?? deadlineIn(FUNCTION_CONFIG_TIMEOUT_MS), "Lambda GetFunctionConfiguration", (options) =>
      client.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }), options),
    );
  };
}

/**
 * Reads the function's configuration. `name` is a function name, a qualified name or an ARN; the
 * region is the ARN's, else AWS_REGION / AWS_DEFAULT_REGION of `env`.
 */
export async function readFunctionConfiguration(
  name: string,
  env: Env,
  get: GetFunctionConfigurationFn = sdkGetFunctionConfiguration(),
): Promise<FunctionConfiguration> {
  const arn = FUNCTION_ARN.exec(name);
  const region = arn?.[1] ?? (env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim());
  if (!region) throw new FunctionConfigError(`--function ${name}: no region to look the function up in: pass the function's ARN, or set AWS_REGION`);
  let out: Awaited<ReturnType<GetFunctionConfigurationFn>>;
  try {
    out = await get(name, region);
  } catch (error) {
    const code = (error as { name?: string }).name;
    const next =
      code === "ResourceNotFoundException"
        ? `no function ${JSON.stringify(name)} in ${region}: check the name (aws lambda list-functions --region ${region}) and the region (AWS_REGION, or pass the ARN)`
        : code === "AccessDeniedException" || code === "AccessDenied"
          ? 'your identity needs lambda:GetFunctionConfiguration on the function (docs/deploy.md, "On-call access")'
          : "check your AWS credentials and network";
    throw new FunctionConfigError(`--function ${name}: GetFunctionConfiguration failed in ${region}: ${describeError(error)}; ${next}`);
  }
  const functionArn = out.FunctionArn ?? "";
  const parsed = FUNCTION_ARN.exec(functionArn);
  return {
    functionName: out.FunctionName ?? name,
    functionArn,
    region: parsed?.[1] ?? region,
    accountId: parsed?.[2] ?? arn?.[2] ?? "",
    variables: { ...out.Environment?.Variables },
  };
}

export interface MergedEnvironment {
  env: Env;
  /** Variables of the function that the local environment overrides (same name, different value). */
  overridden: string[];
  /** Variables the local environment adds that the function does not set. */
  added: string[];
}

/**
 * The environment a run uses: the function's variables and region, then every variable of
 * `local` named in `productNames` (the configuration's variables) on top. Everything else of
 * `local` (credentials, AWS_ENDPOINT_URL, PATH) is kept; AWS_REGION is the function's region.
 */
export function mergeFunctionEnvironment(fn: FunctionConfiguration, local: Env, productNames: readonly string[]): MergedEnvironment {
  const env: Env = { ...local, ...fn.variables, AWS_REGION: fn.region, AWS_DEFAULT_REGION: fn.region };
  const overridden: string[] = [];
  const added: string[] = [];
  for (const name of productNames) {
    if (name === "AWS_REGION" || name === "AWS_DEFAULT_REGION") continue;
    const value = local[name];
    if (value === undefined || value.trim() === "") continue;
    if (fn.variables[name] === undefined) added.push(name);
    else if (fn.variables[name] !== value) overridden.push(name);
    env[name] = value;
  }
  return { env, overridden, added };
}

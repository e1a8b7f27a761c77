/**
 * Settings shared by every AWS SDK client the service builds. Nothing may
 * hang: each attempt of a call (connecting, sending, reading the answer) is
 * aborted at `requestTimeoutMs`, a call makes at most `maxAttempts` attempts,
 * and the credential chain (which ends at the instance metadata service) runs
 * under a deadline. Requests go through Deno's `fetch` (handlers/aws/fetch.ts), so
 * `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` apply to AWS calls. The SDK never
 * writes to the console, and its errors are turned into messages that say
 * what failed and what to do; a refused permission or refused credentials
 * become an `AwsPermissionError`, which restarting cannot fix.
 *
 * Endpoints are left to the SDK, which reads `AWS_ENDPOINT_URL_<SERVICE>`,
 * `AWS_ENDPOINT_URL` and the shared config file by itself.
 */
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { FetchRequestHandler } from "./fetch.ts";
import { AwsPermissionError } from "./errors.ts";

export { AwsPermissionError };

/** Where and how patiently to call an AWS service. */
export interface AwsOptions {
  region: string;
  /** An explicit endpoint; when absent the SDK's usual sources apply (`AWS_ENDPOINT_URL*`). */
  endpoint?: string | undefined;
  /** Deadline of one attempt (connect, request and answer) in ms (default 5000). */
  requestTimeoutMs?: number | undefined;
  /** Attempts per call, the first included, with the SDK's back-off (default 3). */
  maxAttempts?: number | undefined;
}

/** How long the whole credential chain may take before the call fails. */
export const CREDENTIALS_TIMEOUT_MS = 3_000;
/** Timeout of each instance-metadata request made by the credential chain. */
const IMDS_CREDENTIALS_TIMEOUT_MS = 1_000;

const SILENT = { debug() {}, info() {}, warn() {}, error() {}, trace() {} };

/** The configuration object to spread into any AWS SDK v3 client constructor. */
export function awsClientConfig(options: AwsOptions) {
  const requestTimeout = options.requestTimeoutMs ?? 5_000;
  return {
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: new FetchRequestHandler(requestTimeout),
    credentials: guardedCredentials(CREDENTIALS_TIMEOUT_MS),
    logger: SILENT,
  };
}

/** The SDK's default credential chain, failing after `ms` instead of waiting on a silent endpoint. */
function guardedCredentials(ms: number) {
  const chain = defaultProvider({ timeout: IMDS_CREDENTIALS_TIMEOUT_MS, maxRetries: 0, logger: SILENT });
  return (props?: Parameters<typeof chain>[0]) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`no credentials within ${ms} ms`);
        err.name = "CredentialsProviderError";
        reject(err);
      }, ms);
    });
    return Promise.race([chain(props), deadline]).finally(() => clearTimeout(timer));
  };
}

/** Runs `work` with an AbortSignal that fires after `ms`; rejects with a TimeoutError then. */
export async function withDeadline<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`no answer within ${ms} ms`);
      err.name = "TimeoutError";
      controller.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

const ACCESS_DENIED = new Set(["AccessDeniedException", "AccessDenied"]);
/** AWS does not accept the credentials themselves (unknown key, bad signature, expired token). */
const CREDENTIALS_REFUSED = new Set([
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "InvalidClientTokenId",
  "ExpiredTokenException",
  "ExpiredToken",
]);
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);

/**
 * The kind of failure, for callers that react differently (retry, fall back):
 * `credentials` none found (the metadata service may just be slow), `refused`
 * AWS rejects the credentials, `access` the IAM policy denies the action.
 */
export type AwsFailure =
  | "credentials"
  | "refused"
  | "access"
  | "network"
  | "throttled"
  | "server"
  | "request";

/** Classifies an SDK error. */
export function awsFailure(err: unknown): AwsFailure {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (e?.name === "CredentialsProviderError") return "credentials";
  if (CREDENTIALS_REFUSED.has(e?.name ?? "")) return "refused";
  if (ACCESS_DENIED.has(e?.name ?? "") || status === 403) return "access";
  if (/Throttl|TooManyRequests|RequestLimitExceeded|Rate exceeded/i.test(`${e?.name} ${message(err)}`)) {
    return "throttled";
  }
  if (status !== undefined && status >= 500) return "server";
  if (status === undefined) return "network";
  return "request";
}

/** True for the failures restarting cannot fix: denied by IAM, or credentials refused. */
export function isPermissionFailure(err: unknown): boolean {
  const kind = awsFailure(err);
  return kind === "access" || kind === "refused";
}

/**
 * An Error saying what failed (`action`, e.g. `Cannot read parameters under
 * "/mq2wsbridge" from SSM in us-east-1`) and why, in words an operator can act
 * on; an `AwsPermissionError` naming `permission` when access or credentials
 * were refused. `redact` scrubs any value the service's message might echo back.
 */
export function describeAwsError(
  action: string,
  err: unknown,
  redact = (s: string) => s,
  permission?: string,
): Error {
  const why = awsErrorReason(err, redact, permission);
  // The raw error would carry unredacted text into `errorText(cause)`.
  const clean = redact(message(err)) === message(err);
  const options = clean ? { cause: err } : {};
  if (isPermissionFailure(err)) {
    return new AwsPermissionError(`${action}: ${why}`, permission ?? "the IAM policy", options);
  }
  return new Error(`${action}: ${why}`, options);
}

/**
 * Why an AWS call failed, with a hint at the fix: `access denied (...): the
 * instance role needs logs:PutLogEvents ...`. `permission` is the IAM action
 * the call needs, named in the hint when access is denied.
 */
export function awsErrorReason(err: unknown, redact = (s: string) => s, permission?: string): string {
  const text = redact(message(err));
  const code = (err as { code?: string })?.code;
  switch (awsFailure(err)) {
    case "credentials":
      return `no AWS credentials found (${text}): attach an instance role, or set AWS_ACCESS_KEY_ID ` +
        `and AWS_SECRET_ACCESS_KEY, or configure a profile in ~/.aws`;
    case "refused":
      return `AWS refused the credentials (${text}): check the instance role, or the AWS_ACCESS_KEY_ID, ` +
        `AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN or the profile in use, and the system clock`;
    case "access":
      return permission
        ? `access denied (${text}): allow ${permission} in the IAM policy of the instance role`
        : `access denied (${text}): check the IAM policy of the instance role`;
    case "network":
      return NETWORK_CODES.has(code ?? "") || (err as Error)?.name === "TimeoutError"
        ? `endpoint unreachable (${text})`
        : `request failed (${text})`;
    case "throttled":
      return `throttled by AWS after retries (${text})`;
    default:
      return `${(err as Error)?.name ?? "error"}: ${text}`;
  }
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

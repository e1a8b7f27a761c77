/**
 * EC2 instance metadata (IMDSv2): the instance's region and id. A session
 * token is fetched with PUT, then the value with GET, the whole exchange under
 * one short deadline, because off EC2 the address either refuses, answers
 * something else, or (worst) swallows packets. Any failure means "not on EC2"
 * and yields null; the caller decides what that implies.
 *
 * The endpoint is passed in (main reads `AWS_EC2_METADATA_SERVICE_ENDPOINT`).
 * The metadata service is on the instance's own link: its requests never go
 * through `HTTP_PROXY` (a proxy would answer for itself, or not at all), as
 * in the AWS SDK's own metadata client.
 */

/** Where the metadata service is and how long to wait for it. */
export interface ImdsOptions {
  /** Base URL; default `http://169.254.169.254` (AWS_EC2_METADATA_SERVICE_ENDPOINT). */
  endpoint?: string | undefined;
  /** Deadline for token plus value, in ms (default 1000). */
  timeoutMs?: number | undefined;
  /** True when AWS_EC2_METADATA_DISABLED is set: never ask. */
  disabled?: boolean | undefined;
}

/** The default metadata address on EC2. */
export const IMDS_DEFAULT_ENDPOINT = "http://169.254.169.254";
const TOKEN_TTL_SECS = "60";

/** The instance's region (`placement/region`), or null when not on EC2. */
export function imdsRegion(options: ImdsOptions = {}): Promise<string | null> {
  return imdsGet("placement/region", options);
}

/** The instance id (`i-0123...`), or null when not on EC2. */
export function imdsInstanceId(options: ImdsOptions = {}): Promise<string | null> {
  return imdsGet("instance-id", options);
}

/** Reads `/latest/meta-data/<path>` with an IMDSv2 token; null on any failure or timeout. */
export async function imdsGet(path: string, options: ImdsOptions = {}): Promise<string | null> {
  if (options.disabled) return null;
  const base = (options.endpoint || IMDS_DEFAULT_ENDPOINT).replace(/\/+$/, "");
  const signal = AbortSignal.timeout(options.timeoutMs ?? 1_000);
  let client: Deno.HttpClient;
  try {
    client = direct(new URL(base));
  } catch {
    return null; // not a usable URL
  }
  try {
    const token = await text(
      await fetch(`${base}/latest/api/token`, {
        method: "PUT",
        headers: { "X-aws-ec2-metadata-token-ttl-seconds": TOKEN_TTL_SECS },
        signal,
        client,
      }),
    );
    if (token === null) return null;
    const value = await text(
      await fetch(`${base}/latest/meta-data/${path}`, {
        headers: { "X-aws-ec2-metadata-token": token },
        signal,
        client,
      }),
    );
    return value;
  } catch {
    return null; // refused, reset, timed out, or not an HTTP server: not on EC2
  } finally {
    client.close();
  }
}

/** An HTTP client that connects straight to `url`'s host, whatever the proxy variables say. */
function direct(url: URL): Deno.HttpClient {
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return Deno.createHttpClient({ proxy: { transport: "tcp", hostname, port } });
}

/** The trimmed body of a 200 answer with a sane value; otherwise null. Always consumes the body. */
async function text(response: Response): Promise<string | null> {
  if (!response.ok) {
    await response.body?.cancel();
    return null;
  }
  const body = (await response.text()).trim();
  // A metadata value is one short token; anything else (an HTML page from a
  // captive proxy, say) is not the metadata service.
  return /^[\w.:/+=-]{1,200}$/.test(body) ? body : null;
}

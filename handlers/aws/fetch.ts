/**
 * The HTTP handler of every AWS SDK client the service builds: one request
 * through Deno's own `fetch`, under a deadline that covers connecting,
 * sending and reading the whole answer.
 *
 * Why not the SDK's default (node:https): under Deno it ignores
 * `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`, so on a network that only lets a
 * proxy out every AWS call fails. Deno's `fetch` honours those variables
 * (upper and lower case, `NO_PROXY` with hosts, domains and CIDR ranges) by
 * itself. And an aborted `fetch` really closes its connection, so a request
 * to an endpoint that accepts TCP and never answers ends at the deadline
 * instead of holding the process open.
 */
import { HttpResponse } from "@smithy/core/protocols";

/** What the SDK hands a request handler (the parts of `HttpRequest` used here). */
export interface SdkHttpRequest {
  protocol: string;
  hostname: string;
  port?: number | undefined;
  path: string;
  query?: Record<string, string | string[] | null> | undefined;
  method: string;
  headers: Record<string, string>;
  body?: unknown;
}

/** A TimeoutError naming the deadline, as the SDK's own handlers throw it (the SDK retries those). */
function timeoutError(ms: number, url: string): Error {
  const err = new Error(`no answer from ${url} within ${ms} ms`);
  err.name = "TimeoutError";
  return err;
}

/** A request handler over `fetch`; each attempt is aborted after `requestTimeoutMs`. */
export class FetchRequestHandler {
  /** Read by the SDK. */
  readonly metadata = { handlerProtocol: "http/1.1" };
  #requestTimeoutMs: number;

  constructor(requestTimeoutMs: number) {
    this.#requestTimeoutMs = requestTimeoutMs;
  }

  /** Sends `request`; rejects with a TimeoutError past the deadline, an AbortError when `abortSignal` fires. */
  async handle(
    request: SdkHttpRequest,
    options: { abortSignal?: AbortSignal | { aborted: boolean } } = {},
  ): Promise<{ response: HttpResponse }> {
    const url = requestUrl(request);
    const outer = options.abortSignal instanceof AbortSignal ? options.abortSignal : undefined;
    if (outer?.aborted) throw abortError(outer);
    const controller = new AbortController();
    const ms = this.#requestTimeoutMs;
    const timer = setTimeout(
      () => controller.abort(timeoutError(ms, `${request.protocol}//${request.hostname}`)),
      ms,
    );
    const onAbort = () => controller.abort(abortError(outer!));
    outer?.addEventListener("abort", onAbort, { once: true });
    try {
      const method = request.method.toUpperCase();
      const response = await fetch(url, {
        method,
        headers: withoutHost(request.headers),
        body: method === "GET" || method === "HEAD" ? null : (request.body as BodyInit | null) ?? null,
        signal: controller.signal,
      });
      // The whole answer under the same deadline: AWS answers are small, and a
      // peer that stops after the headers must not hang the call either.
      const body = new Uint8Array(await response.arrayBuffer());
      const headers: Record<string, string> = {};
      for (const [name, value] of response.headers) headers[name] = value;
      return {
        response: new HttpResponse({
          statusCode: response.status,
          reason: response.statusText,
          headers,
          body: new Blob([body]),
        }),
      };
    } catch (err) {
      // fetch rejects with the abort reason: our TimeoutError or the caller's AbortError.
      throw controller.signal.aborted ? controller.signal.reason : networkError(err);
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
    }
  }

  /** Part of the SDK's handler interface; the timeout is fixed at construction. */
  updateHttpClientConfig(): void {}

  /** Part of the SDK's handler interface. */
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  /** Nothing to release: `fetch` keeps no connection past an aborted or finished call. */
  destroy(): void {}
}

function requestUrl(request: SdkHttpRequest): string {
  const port = request.port ? `:${request.port}` : "";
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(request.query ?? {})) {
    if (value === null) query.append(key, "");
    else for (const v of Array.isArray(value) ? value : [value]) query.append(key, v);
  }
  const search = query.size > 0 ? `?${query.toString().replace(/\+/g, "%20")}` : "";
  return `${request.protocol}//${request.hostname}${port}${request.path}${search}`;
}

/** fetch sets Host from the URL (the value the request was signed with). */
function withoutHost(headers: Record<string, string>): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== "host") out.set(name, value);
  }
  return out;
}

/** Node-style codes the SDK's retry logic and handlers/aws/client.ts recognise, from the text of Deno's fetch errors. */
const NETWORK_CODES: [RegExp, string][] = [
  [/connection refused/i, "ECONNREFUSED"],
  [/connection reset|reset by peer/i, "ECONNRESET"],
  [/broken pipe/i, "EPIPE"],
  [/timed out/i, "ETIMEDOUT"],
  [/dns error|failed to lookup|name or service not known/i, "ENOTFOUND"],
  [/network is unreachable/i, "ENETUNREACH"],
  [/no route to host|host is unreachable/i, "EHOSTUNREACH"],
];

/** fetch's `TypeError: fetch failed` with the reason in `cause`, as an Error carrying a `code`. */
function networkError(err: unknown): unknown {
  if (!(err instanceof TypeError)) return err;
  const detail = err.cause instanceof Error ? err.cause.message : err.message;
  const code = NETWORK_CODES.find(([pattern]) => pattern.test(detail))?.[1];
  const out = new Error(code ? `${code}: ${detail}` : detail, { cause: err });
  if (code) Object.assign(out, { code });
  return out;
}

function abortError(signal: AbortSignal): Error {
  const err = new Error("Request aborted", { cause: signal.reason });
  err.name = "AbortError";
  return err;
}

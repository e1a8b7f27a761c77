/**
 * The HTTP endpoint for the tools operators watch a service with (off unless
 * `--http-listen` or `service.http_listen` is set):
 *
 * - `GET /ping`: 200 `pong` while the process runs (liveness);
 * - `GET /ready`: 200 when messages can flow, 503 otherwise; the body is the
 *   JSON state of each side (readiness, for a load balancer or a watchdog);
 * - `GET /metrics`: the Prometheus text exposition format.
 *
 * GET and HEAD only (405 otherwise, with `Allow`), 404 for any other path.
 * Nothing it answers holds a secret: the readiness body has states, times and
 * counts, the metrics have names, numbers and build labels. It binds exactly
 * the address given and logs nothing per request.
 */
import { errorText, type Logger } from "../../lib/log.ts";
import { within } from "../../lib/async.ts";

/** What the endpoint serves, read at each request. */
export interface HttpEndpointSources {
  /** `ready` decides 200 or 503; `body` is sent as JSON. */
  ready(): { ready: boolean; body: unknown };
  /** The Prometheus text, and its content type; without it, `/metrics` is 404. */
  metrics?: () => { text: string; contentType: string };
}

/** Where to listen, and what to serve. */
export interface HttpEndpointOptions extends HttpEndpointSources {
  hostname: string;
  /** 0 picks a free port (see `HttpEndpoint.port`). */
  port: number;
  log: Logger;
}

/** A listening endpoint; close it at shutdown. */
export interface HttpEndpoint extends AsyncDisposable {
  readonly hostname: string;
  /** The port bound (the one picked, when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

/** The address could not be bound; `message` says which and why, e.g. "address already in use". */
export class HttpListenError extends Error {
  override name = "HttpListenError";
}

const ALLOW = "GET, HEAD";
const CLOSE_TIMEOUT_MS = 2_000;

/** Binds `hostname:port` and starts answering; throws `HttpListenError` when it cannot bind. */
export function openHttpEndpoint(options: HttpEndpointOptions): HttpEndpoint {
  const { hostname, port, log } = options;
  const shown = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port,
      onListen: () => {}, // Deno prints "Listening on ..." to stdout otherwise
      onError: (err) => {
        log.error("The HTTP endpoint could not answer a request", { error: errorText(err) });
        return new Response("internal error\n", { status: 500 });
      },
    }, (request) => answer(request, options));
  } catch (err) {
    throw new HttpListenError(`cannot listen on ${shown}: ${listenReason(err)}`, { cause: err });
  }
  const bound = server.addr.port;
  log.info("HTTP endpoint listening", {
    address: hostname.includes(":") ? `[${hostname}]:${bound}` : `${hostname}:${bound}`,
  });
  let closing: Promise<void> | null = null;
  const close = () => closing ??= within(server.shutdown(), CLOSE_TIMEOUT_MS).then(() => {});
  return { hostname, port: bound, close, [Symbol.asyncDispose]: close };
}

function answer(request: Request, sources: HttpEndpointSources): Response {
  const path = new URL(request.url).pathname;
  const route = ROUTES[path];
  if (!route || (path === "/metrics" && !sources.metrics)) return text(404, "not found\n");
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", {
      status: 405,
      headers: { allow: ALLOW, "content-type": "text/plain; charset=utf-8" },
    });
  }
  // HEAD gets the GET's response: Deno's server sends its status and headers, Content-Length
  // included, and no body (RFC 9110 8.6: a HEAD's Content-Length must be the GET's, so not 0).
  return route(sources);
}

const ROUTES: Record<string, (sources: HttpEndpointSources) => Response> = {
  "/ping": () => text(200, "pong\n"),
  "/ready": (sources) => {
    const { ready, body } = sources.ready();
    return new Response(JSON.stringify(body, null, 2) + "\n", {
      status: ready ? 200 : 503,
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  },
  "/metrics": (sources) => {
    const { text, contentType } = sources.metrics!();
    return new Response(text, {
      status: 200,
      headers: { "content-type": contentType, "cache-control": "no-store" },
    });
  },
};

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

/** The OS's reason in words an operator knows. */
function listenReason(err: unknown): string {
  if (err instanceof Deno.errors.AddrInUse) return "address already in use (another process has the port)";
  if (err instanceof Deno.errors.AddrNotAvailable) return "the address is not one of this machine's";
  if (err instanceof Deno.errors.PermissionDenied) {
    return "permission denied (a port under 1024 needs the CAP_NET_BIND_SERVICE capability)";
  }
  return errorText(err);
}

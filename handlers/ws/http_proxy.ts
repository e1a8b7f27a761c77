/**
 * HTTP proxies for the WebSocket connection, the way curl and the AWS tools
 * read them: `HTTPS_PROXY` for wss://, `HTTP_PROXY` for ws:// (lower-case
 * names too, which win), `NO_PROXY` for the hosts that bypass them. The
 * relay (handlers/ws/relay.ts) opens a tunnel with HTTP CONNECT and speaks TLS,
 * if any, through it, so the proxy sees only the host and port.
 */

/** The proxy variables, as read from the environment by main.ts. */
export interface ProxyEnv {
  httpsProxy?: string | undefined;
  httpProxy?: string | undefined;
  noProxy?: string | undefined;
}

/** Reads the proxy variables from `get` (lower-case names win, as in curl). */
export function proxyEnvFrom(get: (name: string) => string | undefined): ProxyEnv {
  return {
    httpsProxy: get("https_proxy") ?? get("HTTPS_PROXY"),
    httpProxy: get("http_proxy") ?? get("HTTP_PROXY"),
    noProxy: get("no_proxy") ?? get("NO_PROXY"),
  };
}

/** The proxy to reach `host:port` through, or null to connect directly. Throws on a bad proxy URL. */
export function proxyFor(
  target: { hostname: string; port: number; tls: boolean },
  env: ProxyEnv,
): URL | null {
  const raw = (target.tls ? env.httpsProxy : env.httpProxy)?.trim();
  if (!raw || bypasses(target.hostname, target.port, env.noProxy ?? "")) return null;
  const name = target.tls ? "HTTPS_PROXY" : "HTTP_PROXY";
  let url: URL;
  try {
    url = new URL(raw.includes("://") ? raw : `http://${raw}`);
  } catch {
    throw new Error(`${name} is not a proxy URL (expected http://host:port)`);
  }
  if (url.protocol !== "http:") {
    throw new Error(`${name}: only http:// proxies are supported, not "${url.protocol}//"`);
  }
  return url;
}

/** What is wrong with the proxy settings for the API at `apiHost` (a ws:// or wss:// URL), or null. */
export function proxyProblemFor(apiHost: string, env: ProxyEnv): string | null {
  const url = new URL(apiHost);
  const tls = url.protocol === "wss:";
  try {
    proxyFor({
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port) || (tls ? 443 : 80),
      tls,
    }, env);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** NO_PROXY: `*`, or host names, domain suffixes (`.example.com` or `example.com`) and IPs, with an optional `:port`. */
export function bypasses(hostname: string, port: number, noProxy: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  for (const raw of noProxy.toLowerCase().split(/[\s,]+/)) {
    if (raw === "") continue;
    if (raw === "*") return true;
    // "[v6]:port", "name:port" (one colon), or a bare name or address (a v6 one has several colons).
    const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw) ?? /^([^:]+):(\d+)$/.exec(raw);
    const name = (match ? match[1]! : raw).replace(/^\*?\./, "");
    if (match?.[2] !== undefined && Number(match[2]) !== port) continue;
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

/** The proxy as logs may show it: scheme, host and port, never its credentials. */
export function proxyLabel(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/**
 * Opens a TCP connection to `proxy` and a CONNECT tunnel through it to
 * `hostname:port`; resolves with the connection once the proxy answers 200.
 */
export async function connectThroughProxy(
  proxy: URL,
  hostname: string,
  port: number,
  options: { noDelay: boolean; signal?: AbortSignal; opened?: (conn: Deno.TcpConn) => void },
): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({
    hostname: proxy.hostname.replace(/^\[|\]$/g, ""),
    port: proxyPort(proxy),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  options.opened?.(conn); // so that the caller can close it to cut a proxy that never answers
  conn.setNoDelay(options.noDelay);
  try {
    const authority = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    let request = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
    if (proxy.username) {
      const user = decodeURIComponent(proxy.username);
      const password = decodeURIComponent(proxy.password);
      request += `Proxy-Authorization: Basic ${
        btoa(String.fromCharCode(...utf8(`${user}:${password}`)))
      }\r\n`;
    }
    await writeAll(conn, utf8(request + "\r\n"));
    const head = await readHead(conn);
    const status = /^HTTP\/1\.[01] (\d{3})(.*)/.exec(head.split("\r\n", 1)[0] ?? "");
    if (!status) throw new Error(`proxy ${proxyLabel(proxy)} did not answer CONNECT with HTTP`);
    if (status[1] !== "200") {
      throw new Error(`proxy ${proxyLabel(proxy)} refused CONNECT to ${authority}: ${status[1]}${status[2]}`);
    }
    return conn;
  } catch (err) {
    try {
      conn.close();
    } catch {
      // already closed
    }
    throw err;
  }
}

function proxyPort(proxy: URL): number {
  return Number(proxy.port) || 80;
}

/** Reads the response head byte by byte, so no byte of the tunnel is taken with it. */
async function readHead(conn: Deno.Conn): Promise<string> {
  const byte = new Uint8Array(1);
  const bytes: number[] = [];
  while (bytes.length < 16_384) {
    const n = await conn.read(byte);
    if (n === null) throw new Error("the proxy closed the connection before answering CONNECT");
    bytes.push(byte[0]!);
    const l = bytes.length;
    if (l >= 4 && bytes[l - 4] === 13 && bytes[l - 3] === 10 && bytes[l - 2] === 13 && bytes[l - 1] === 10) {
      return new TextDecoder().decode(new Uint8Array(bytes));
    }
  }
  throw new Error("the proxy's answer to CONNECT has no end of header within 16 KiB");
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

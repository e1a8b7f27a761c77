/**
 * Fixtures for the AWS handler tests, each an AsyncDisposable: moto (the AWS
 * emulator) on a loopback port it picks itself, a recording front that can
 * forward to moto or inject faults, a server that never answers, a port with
 * nothing behind it, a local IMDSv2, and scoped environment variables; the
 * environment of a child process that must reach moto and nothing else of
 * AWS, and a Parameter Store filled with a configuration.
 */
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";

/** A running moto server. */
export interface Moto extends AsyncDisposable {
  endpoint: string;
  reset(): Promise<void>;
}

const PYTHONS = ["python3", `${Deno.env.get("HOME")}/.pyenv/versions/3.11.7/bin/python3`];

/** Starts `python -m moto.server` on port 0 and waits until `/moto-api/` answers. */
export async function startMoto(): Promise<Moto> {
  const failures: string[] = [];
  for (const python of PYTHONS) {
    const child = new Deno.Command(python, {
      args: ["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // moto logs every request to stderr: keep reading so the pipe never fills.
    let log = "";
    const { promise: port, resolve } = Promise.withResolvers<string | null>();
    const drained = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        log = (log + chunk).slice(-4_000);
        const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
        if (match) resolve(match[1]!);
      }
      resolve(null);
    })();
    const timer = setTimeout(() => resolve(null), 15_000);
    const found = await port;
    clearTimeout(timer);
    const stop = async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await drained;
    };
    if (found === null) {
      await stop();
      failures.push(`${python}: ${log.trim().split("\n").slice(-2).join(" ")}`);
      continue;
    }
    const endpoint = `http://127.0.0.1:${found}`;
    await waitFor(
      async () => (await drain(await fetch(`${endpoint}/moto-api/`))).ok,
      10_000,
      "moto /moto-api/",
    );
    return {
      endpoint,
      reset: async () => {
        await drain(await fetch(`${endpoint}/moto-api/reset`, { method: "POST" }));
      },
      [Symbol.asyncDispose]: stop,
    };
  }
  throw new Error(`Cannot start moto: ${failures.join("; ")}`);
}

async function drain(response: Response): Promise<Response> {
  await response.body?.cancel();
  return response;
}

/** One request seen by a `FakeAws` server. */
export interface AwsCall {
  /** The operation, e.g. `PutLogEvents` (from X-Amz-Target). */
  operation: string;
  // deno-lint-ignore no-explicit-any -- JSON bodies of several services
  body: any;
  time: number;
}

/** Answers one call; return undefined to forward it (or answer `{}` without an upstream). */
export type Responder = (
  call: AwsCall,
  index: number,
) => Response | undefined | Promise<Response | undefined>;

/** A recording AWS JSON-protocol front. */
export interface FakeAws extends AsyncDisposable {
  endpoint: string;
  calls: AwsCall[];
  /** Calls of one operation. */
  of(operation: string): AwsCall[];
}

/** Starts a server that records every call and answers with `respond`, or forwards to `upstream`. */
export function startFakeAws(respond: Responder = () => undefined, upstream?: string): FakeAws {
  const calls: AwsCall[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const raw = new Uint8Array(await req.arrayBuffer());
    const target = req.headers.get("x-amz-target") ?? "";
    let bytes = raw;
    if (req.headers.get("content-encoding") === "gzip") {
      const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    }
    const text = new TextDecoder().decode(bytes);
    const call = {
      operation: target.split(".").pop() ?? "",
      body: text ? JSON.parse(text) : {},
      time: Date.now(),
    };
    calls.push(call);
    const answer = await respond(call, calls.length - 1);
    if (answer) return answer;
    if (!upstream) return json({});
    const url = new URL(req.url);
    const forwarded = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: raw,
    });
    return new Response(await forwarded.arrayBuffer(), {
      status: forwarded.status,
      headers: forwarded.headers,
    });
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    calls,
    of: (operation) => calls.filter((c) => c.operation === operation),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A JSON-protocol answer. */
export function json(body: unknown, status = 200, type?: string): Response {
  const headers: Record<string, string> = { "content-type": "application/x-amz-json-1.1" };
  if (type) headers["x-amzn-errortype"] = type;
  return new Response(JSON.stringify(type ? { __type: type, message: String(body) } : body), {
    status,
    headers,
  });
}

/** AWS's throttling answer. */
export const throttled = () => json("Rate exceeded", 400, "ThrottlingException");
/** A server-side failure. */
export const unavailable = () => json("Service unavailable", 503, "ServiceUnavailableException");

/** AWS's answer to an action the IAM policy does not allow: HTTP 400, `__type` AccessDeniedException. */
export function accessDenied(action: string): Response {
  return json(
    `User: arn:aws:sts::123456789012:assumed-role/mq2wsbridge/i-0abc is not authorized to perform: ` +
      `${action} because no identity-based policy allows the ${action} action`,
    400,
    "AccessDeniedException",
  );
}

/** What an `AwsProxy` does instead of forwarding, by operation (the last part of X-Amz-Target). */
export interface ProxyRules {
  /** Operation → IAM action named in the AccessDenied answer, e.g. `{ CreateLogGroup: "logs:CreateLogGroup" }`. */
  deny?: Record<string, string>;
  /** Operations answered 503. */
  fail?: string[];
  /** Operations never answered (until the proxy is disposed). */
  hang?: string[];
}

/**
 * A recording HTTP proxy in front of moto (`upstream`) that denies, fails or
 * hangs the operations `rules` names and forwards every other call. The
 * rules may be changed while it runs.
 */
export function startAwsProxy(upstream: string, rules: ProxyRules = {}): FakeAws & { rules: ProxyRules } {
  const release = new AbortController();
  const state = { rules };
  const fake = startFakeAws((call) => {
    const { deny = {}, fail = [], hang = [] } = state.rules;
    const action = deny[call.operation];
    if (action) return accessDenied(action);
    if (fail.includes(call.operation)) return unavailable();
    if (!hang.includes(call.operation)) return undefined;
    return new Promise<Response>((resolve) =>
      release.signal.addEventListener("abort", () => resolve(unavailable()), { once: true })
    );
  }, upstream);
  return {
    endpoint: fake.endpoint,
    calls: fake.calls,
    of: fake.of,
    get rules() {
      return state.rules;
    },
    set rules(next: ProxyRules) {
      state.rules = next;
    },
    [Symbol.asyncDispose]: () => (release.abort(), fake[Symbol.asyncDispose]()),
  };
}

/** A TCP server that accepts connections and never answers: a hung endpoint. */
export function startSilentServer(): AsyncDisposable & { endpoint: string } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch { /* listener closed */ }
  })();
  return {
    endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    [Symbol.asyncDispose]: async () => {
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed by the peer */ }
      }
    },
  };
}

/** A loopback URL with nothing listening (connection refused). */
export function deadEndpoint(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

/** Options of a local IMDSv2. */
export interface ImdsFake {
  region?: string;
  instanceId?: string;
  /** Answer only after this many ms. */
  delayMs?: number;
}

/** A local IMDSv2 that insists on the token; records paths asked. */
export function startImds(options: ImdsFake = {}): AsyncDisposable & { endpoint: string; paths: string[] } {
  const paths: string[] = [];
  const token = crypto.randomUUID();
  const controller = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    paths.push(`${req.method} ${path}`);
    if (options.delayMs) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, options.delayMs);
        controller.signal.addEventListener("abort", () => (clearTimeout(timer), resolve(null)));
      });
    }
    if (req.method === "PUT" && path === "/latest/api/token") return new Response(token);
    if (req.headers.get("x-aws-ec2-metadata-token") !== token) return new Response("", { status: 401 });
    if (path === "/latest/meta-data/placement/region") return new Response(options.region ?? "eu-west-3");
    if (path === "/latest/meta-data/instance-id") return new Response(options.instanceId ?? "i-0abc");
    return new Response("", { status: 404 });
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    paths,
    [Symbol.asyncDispose]: () => (controller.abort(), server.shutdown()),
  };
}

const ISOLATED: Record<string, string | undefined> = {
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_REGION: undefined,
  AWS_DEFAULT_REGION: undefined,
  AWS_CONFIG_FILE: "/nonexistent/aws-config",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_ENDPOINT_URL: undefined,
  AWS_ENDPOINT_URL_SSM: undefined,
  AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: undefined,
  AWS_ENDPOINT_URL_CLOUDWATCH: undefined,
};

/** Sets environment variables (undefined unsets) over an isolated AWS baseline; restores on dispose. */
export function awsEnv(vars: Record<string, string | undefined>): Disposable {
  const all = { ...ISOLATED, ...vars };
  const saved = new Map(Object.keys(all).map((k) => [k, Deno.env.get(k)]));
  const apply = (entries: Iterable<[string, string | undefined]>) => {
    for (const [key, value] of entries) value === undefined ? Deno.env.delete(key) : Deno.env.set(key, value);
  };
  apply(Object.entries(all));
  return { [Symbol.dispose]: () => apply(saved) };
}

/** Polls `check` until true; fails naming `what` after `ms`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`Cannot see ${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A unique name for this test's resources. */
export function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** The original service's metric names (SPEC 8): every one must still be published. */
export const ORIGINAL_METRICS = [
  "to_ws_total",
  "to_ws_persecond",
  "from_ws_total",
  "from_ws_persecond",
  "mq_connection_attempts_total",
  "mq_connection_attempts_recent",
  "ws_connection_attempts_total",
  "ws_connection_attempts_recent",
];

/** The environment of a child process that must reach `endpoint` (moto or a front of it) and nothing else of AWS. */
export function childAwsEnv(endpoint: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    ...extra,
  };
}

/** Stores `values` (`section.key`, as bridgeValues gives them) as SecureStrings `/mq2wsbridge/section/key`. */
export async function seedParameters(
  endpoint: string,
  values: Record<string, string>,
  region = "us-east-1",
): Promise<void> {
  const client = new SSMClient({
    region,
    endpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  try {
    for (const [key, value] of Object.entries(values)) {
      await client.send(
        new PutParameterCommand({
          Name: `/mq2wsbridge/${key.replace(".", "/")}`,
          Value: value,
          Type: "SecureString",
        }),
      );
    }
  } finally {
    client.destroy();
  }
}

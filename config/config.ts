/**
 * Pure configuration resolution: flat `section.key -> string` values in (from
 * an INI file or Parameter Store), one validated, frozen `BridgeConfig` out.
 * Every problem is collected and reported at once, each naming its key; a
 * secret's value never appears in a problem.
 */
import { KNOWN_KEYS, SECRET_KEYS } from "./keys.ts";
import { amazonMqAddress, type BrokerAddress, mqUrlAddress } from "./broker_url.ts";
import { pythonFloat } from "./py_number.ts";
import { redactUrl, Secret } from "../lib/secret.ts";
import { ConfigError, type RawConfig } from "../lib/raw_config.ts";

export { ConfigError, type RawConfig };

/** Which optional parts of the configuration the caller needs. */
export interface ConfigNeeds {
  /** The WebSocket API keys (false in stub mode and for bridgetester). */
  ws: boolean;
  /** CloudWatch Logs keys (`-l`). */
  logs: boolean;
  /** CloudWatch metrics keys (`-m`). */
  metrics: boolean;
}

/** Resolved `[ws_api]` settings. */
export interface WsSettings {
  apiHost: string;
  apiUri: string;
  clientId: string;
  clientSecret: Secret;
  pingIntervalSecs: number;
  maxConnectAttempts: number;
  attemptWindowSecs: number;
  connectTimeoutSecs: number;
  ackDelayMs: number;
  maxBufferedBytes: number;
  /** to_ws messages larger than this are rejected (dead-lettered), never sent. */
  maxMessageBytes: number;
  /** TCP_NODELAY on the API connection the relay makes (handlers/ws/relay.ts). */
  noDelay: boolean;
  /** While messages come in batches, the shortest time between two writes (0: never wait). */
  coalesceMs: number;
  /** PEM file of the CA that signed the API's certificate, if not a public one. */
  caFile: string | null;
}

/** Resolved `[aws_mq]` settings; `url` carries the credentials. */
export interface MqSettings {
  /**
   * The broker URL with the credentials in it, user and password percent-encoded as UTF-8 (any
   * character survives; handlers/mq/protocol.ts decodes them for the client).
   */
  url: Secret;
  /** The broker URL with the password hidden, for logs. */
  displayUrl: string;
  caFile: string | null;
  queueToWs: string;
  queueFromWs: string;
  ttlFromWsMs: number;
  consumerTag: string;
  prefetch: number;
  /** Most from_ws messages held unconfirmed before reading from the WebSocket pauses. */
  bufferLimit: number;
  /** Most bytes of them held before reading pauses; a larger single message is rejected. */
  bufferBytes: number;
  /** Type of the queues the bridge creates when they are missing (existing ones are used as they are). */
  queueType: "classic" | "quorum";
  maxConnectAttempts: number;
  reconnectDelaySecs: number;
  heartbeatSecs: number;
}

/** Resolved `[aws_cloudwatch]` settings; names are null when not configured. */
export interface CloudWatchSettings {
  region: string | null;
  logGroup: string | null;
  logStream: string | null;
  retentionDays: number;
  metricsNamespace: string | null;
  metricsResolutionSecs: number;
}

/** Where the HTTP endpoint (/ping, /ready, /metrics) listens. */
export interface ListenAddress {
  /** An IP address or a host name, as written (an IPv6 address without its brackets). */
  hostname: string;
  /** 0 picks a free port. */
  port: number;
}

/** Resolved `[service]` settings. */
export interface ServiceSettings {
  /** Null: no HTTP endpoint (the default). */
  httpListen: ListenAddress | null;
  logFormat: "text" | "json";
}

/** The whole resolved configuration. `ws` is null when it was not needed. */
export interface BridgeConfig {
  source: string;
  ws: WsSettings | null;
  mq: MqSettings;
  cloudwatch: CloudWatchSettings;
  service: ServiceSettings;
}

/** Retention periods CloudWatch Logs accepts, in days. */
export const RETENTION_DAYS = [
  1,
  3,
  5,
  7,
  14,
  30,
  60,
  90,
  120,
  150,
  180,
  365,
  400,
  545,
  731,
  1096,
  1827,
  2192,
  2557,
  2922,
  3288,
  3653,
];

const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** Resolves and validates raw values; throws `ConfigError` listing every problem. */
export function parseConfig(raw: RawConfig, needs: ConfigNeeds): BridgeConfig {
  const r = new Reader(raw);
  r.problems.push(...raw.problems ?? []);
  for (const key of raw.values.keys()) {
    if (!KNOWN_KEYS.has(key)) r.problem(key, "is not a known setting (misspelt?)");
  }

  const ws = readWs(r, needs.ws);
  const mq = readMq(r);
  const cloudwatch = readCloudWatch(r, needs);
  const service = readService(r);
  if (r.problems.length > 0 || mq === null) throw new ConfigError(raw.source, r.problems);
  return deepFreeze({ source: raw.source, ws, mq, cloudwatch, service });
}

function readService(r: Reader): ServiceSettings {
  const listen = r.text("service.http_listen", false);
  let httpListen: ListenAddress | null = null;
  if (listen !== null) {
    const parsed = parseListenAddress(listen);
    if (typeof parsed === "string") r.problemWithValue("service.http_listen", parsed);
    else httpListen = parsed;
  }
  return { httpListen, logFormat: r.choice("service.log_format", ["text", "json"] as const, "text") };
}

/**
 * `HOST:PORT` (`127.0.0.1:9464`, `0.0.0.0:9464`, `[::1]:9464`, `localhost:9464`) to an
 * address, or the reason it is not one (for a message that names the key or the flag).
 */
export function parseListenAddress(text: string): ListenAddress | string {
  const expected = "is not HOST:PORT (e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464)";
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:\[\]/]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) return expected;
  const port = Number(match[3]);
  if (port > 65535) return "has a port over 65535";
  return { hostname: match[1] ?? match[2]!, port };
}

function readWs(r: Reader, needed: boolean): WsSettings | null {
  const clientId = r.text("ws_api.client_id", needed);
  const clientSecret = r.text("ws_api.client_secret", needed);
  if (clientSecret !== null && !/^([0-9a-fA-F]{2})+$/.test(clientSecret)) {
    r.problem("ws_api.client_secret", "must be a hex string with an even number of digits");
  }
  const apiHost = r.text("ws_api.api_host", needed);
  if (apiHost !== null) checkApiHost(r, apiHost);
  const apiUri = r.text("ws_api.api_uri", needed);
  if (apiUri !== null && !apiUri.startsWith("/")) {
    r.problemWithValue("ws_api.api_uri", 'must start with "/" (e.g. /path/to/ws)');
  }
  const settings = {
    pingIntervalSecs: r.number("ws_api.ws_ping_interval", 10, { min: 0, max: 86_400 }),
    maxConnectAttempts: r.integer("ws_api.ws_max_connect_attempts", 10, { min: 0 }),
    attemptWindowSecs: r.number("ws_api.ws_attempt_window_secs", 60, { min: 0 }),
    connectTimeoutSecs: r.number("ws_api.ws_connect_timeout_secs", 10, { min: 0.001, max: 86_400 }),
    ackDelayMs: r.integer("ws_api.ws_ack_delay_ms", 100, { min: 0, max: 60_000 }),
    maxBufferedBytes: r.integer("ws_api.ws_max_buffered_bytes", 1_048_576, { min: 1 }),
    maxMessageBytes: r.integer("ws_api.ws_max_message_bytes", 67_108_864, { min: 1 }),
    noDelay: r.boolean("ws_api.ws_no_delay", true),
    coalesceMs: r.integer("ws_api.ws_coalesce_ms", 2, { min: 0, max: 1_000 }),
    caFile: r.text("ws_api.ws_ca_file", false),
  };
  if (clientId === null || clientSecret === null || apiHost === null || apiUri === null) {
    return null;
  }
  return { apiHost, apiUri, clientId, clientSecret: new Secret(clientSecret), ...settings };
}

/**
 * `api_host` is a ws:// or wss:// URL whose path, if any, comes before
 * api_uri (an API Gateway stage: `wss://abc123.execute-api.us-east-1.amazonaws.com/prod`).
 * The URL is api_host + api_uri as written, as the original joined them, so
 * a query, a fragment or a login in api_host cannot work.
 */
function checkApiHost(r: Reader, apiHost: string): void {
  const expected = "(e.g. wss://api.example.com, or wss://abc123.execute-api.us-east-1.amazonaws.com/prod)";
  const shown = `"${redactUrl(apiHost)}"`; // a mistaken login or token in it stays hidden
  const parsed = URL.canParse(apiHost) ? new URL(apiHost) : null;
  if (
    parsed === null || (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") || parsed.hostname === ""
  ) {
    r.problem("ws_api.api_host", `${shown} is not a ws:// or wss:// URL ${expected}`);
  } else if (parsed.username !== "" || parsed.password !== "") {
    r.problem(
      "ws_api.api_host",
      "may not hold a user name or password (the API authenticates with the token)",
    );
  } else if (/[?#\s]/.test(apiHost)) {
    r.problem(
      "ws_api.api_host",
      `${shown} may not hold a query, a fragment or spaces (put a query in api_uri)`,
    );
  }
}

function readMq(r: Reader): MqSettings | null {
  const url = r.text("aws_mq.mq_url", false);
  const user = r.text("aws_mq.mq_user_id", url === null);
  const password = r.text("aws_mq.mq_password", url === null);
  const brokerId = r.text("aws_mq.mq_broker_id", url === null);
  const region = r.text("aws_mq.mq_region", url === null);
  const port = r.integer("aws_mq.mq_port", 5671, { min: 1, max: 65535, what: "a port number (1-65535)" });
  const brokerIdOk = brokerId !== null && /^[A-Za-z0-9-]+$/.test(brokerId);
  if (brokerId !== null && !brokerIdOk) {
    r.problemWithValue("aws_mq.mq_broker_id", "is not a broker id (e.g. b-1234abcd-56ef-...)");
  }
  const regionOk = region !== null && AWS_REGION.test(region);
  if (region !== null && !regionOk) {
    r.problemWithValue("aws_mq.mq_region", "is not an AWS region (e.g. us-east-1)");
  }
  const toWs = r.queue("aws_mq.mq_qname_to_ws");
  const fromWs = r.queue("aws_mq.mq_qname_from_ws");
  if (toWs !== null && toWs === fromWs) {
    r.problem(
      "aws_mq.mq_qname_from_ws",
      `must differ from mq_qname_to_ws ("${toWs}"), or messages would loop`,
    );
  }
  const consumerTag = r.text("aws_mq.mq_consumer_tag", false) ?? "mqhandler";
  if (
    r.raw.values.has("aws_mq.mq_consumer_tag") && r.raw.values.get("aws_mq.mq_consumer_tag")!.trim() === ""
  ) {
    r.problem("aws_mq.mq_consumer_tag", "may not be blank");
  }
  const settings = {
    caFile: r.text("aws_mq.mq_ca_file", false),
    ttlFromWsMs: r.integer("aws_mq.mq_ttl_from_ws", 300_000, { min: 0, max: 2 ** 32 - 1 }),
    consumerTag,
    prefetch: r.integer("aws_mq.mq_prefetch", 2000, { min: 1, max: 65535 }),
    bufferLimit: r.integer("aws_mq.mq_buffer_limit", 10_000, { min: 1 }),
    bufferBytes: r.integer("aws_mq.mq_buffer_bytes", 16_777_216, { min: 1024 }),
    queueType: r.choice("aws_mq.mq_queue_type", ["classic", "quorum"] as const, "classic"),
    maxConnectAttempts: r.integer("aws_mq.mq_max_connect_attempts", 5, { min: 1 }),
    reconnectDelaySecs: r.number("aws_mq.mq_reconnect_delay_secs", 2, { min: 0 }),
    heartbeatSecs: r.integer("aws_mq.mq_heartbeat_secs", 30, { min: 0, max: 65535 }),
  };

  let broker: BrokerAddress | null = null;
  if (url !== null) {
    const resolved = mqUrlAddress(url, user === null ? null : { user, password: password ?? "" });
    if ("problem" in resolved) r.problem("aws_mq.mq_url", resolved.problem);
    else broker = resolved;
  } else if (user !== null && password !== null && brokerIdOk && regionOk) {
    broker = amazonMqAddress(brokerId, region, port, { user, password });
  }
  if (broker === null || toWs === null || fromWs === null) return null;
  return {
    url: new Secret(broker.url),
    displayUrl: redactUrl(broker.url),
    queueToWs: toWs,
    queueFromWs: fromWs,
    ...settings,
  };
}

function readCloudWatch(r: Reader, needs: ConfigNeeds): CloudWatchSettings {
  const region = r.text("aws_cloudwatch.cw_region", needs.logs || needs.metrics);
  if (region !== null && !AWS_REGION.test(region)) {
    r.problemWithValue("aws_cloudwatch.cw_region", "is not an AWS region (e.g. us-east-1)");
  }
  const logGroup = r.text("aws_cloudwatch.cw_log_group", needs.logs);
  if (logGroup !== null && !/^[.\-_/#A-Za-z0-9]{1,512}$/.test(logGroup)) {
    r.problemWithValue("aws_cloudwatch.cw_log_group", "is not a log group name (letters, digits, . - _ / #)");
  }
  const logStream = r.text("aws_cloudwatch.cw_log_stream", needs.logs);
  if (logStream !== null && (/[:*]/.test(logStream) || logStream.length > 512)) {
    r.problemWithValue("aws_cloudwatch.cw_log_stream", 'is not a log stream name (no ":" or "*")');
  }
  const namespace = r.text("aws_cloudwatch.cw_metrics_namespace", needs.metrics);
  if (
    namespace !== null && (namespace.includes(":") || namespace.length > 255 || namespace.startsWith("AWS/"))
  ) {
    r.problemWithValue(
      "aws_cloudwatch.cw_metrics_namespace",
      'is not a metrics namespace (no ":", not "AWS/...")',
    );
  }
  const retentionDays = r.integer("aws_cloudwatch.cw_retention_days", 30, {
    allowed: RETENTION_DAYS,
    what: `one of the retention periods CloudWatch accepts (${RETENTION_DAYS.join(", ")})`,
  });
  return {
    region,
    logGroup,
    logStream,
    retentionDays,
    metricsNamespace: namespace,
    metricsResolutionSecs: r.number("aws_cloudwatch.cw_metrics_resolution", 10, { min: 1, max: 86_400 }),
  };
}

interface NumberRule {
  min?: number;
  max?: number;
  allowed?: number[];
  /** Replaces the generated "a whole number from A to B" in messages. */
  what?: string;
}

/** Reads typed values from a RawConfig, collecting problems instead of throwing. */
class Reader {
  readonly problems: string[] = [];
  constructor(readonly raw: RawConfig) {}

  label(key: string): string {
    return this.raw.label?.(key) ?? key;
  }

  problem(key: string, text: string): void {
    this.problems.push(`${this.label(key)}: ${text}`);
  }

  /** Reports a problem quoting the value, unless the key is a secret. */
  problemWithValue(key: string, text: string): void {
    const value = this.raw.values.get(key) ?? "";
    this.problem(key, SECRET_KEYS.has(key) ? `${text} (value hidden)` : `"${value}" ${text}`);
  }

  /** A trimmed non-empty string, or null when absent (a problem if required). */
  text(key: string, required: boolean): string | null {
    const value = this.raw.values.get(key)?.trim();
    if (value === undefined || value === "") {
      if (required) this.problem(key, "is required but not set");
      return null;
    }
    return value;
  }

  integer(key: string, fallback: number, rule: NumberRule): number {
    return this.number(key, fallback, rule, true);
  }

  /**
   * A number written as Python's float() reads it (" 10 ", "10.0", "1e1",
   * "1_000"), since the original read its settings with int() and float();
   * `integer` keys also take those forms when the value is whole.
   */
  number(key: string, fallback: number, rule: NumberRule, integer = false): number {
    const text = this.text(key, false);
    if (text === null) return fallback;
    const value = pythonFloat(text) ?? NaN;
    const ok = Number.isFinite(value) && (!integer || Number.isInteger(value)) &&
      (rule.min === undefined || value >= rule.min) && (rule.max === undefined || value <= rule.max) &&
      (rule.allowed === undefined || rule.allowed.includes(value));
    if (!ok) this.problemWithValue(key, `is not ${rule.what ?? describe(rule, integer)}`);
    return ok ? value : fallback;
  }

  /** One of `choices` (case-insensitive), or `fallback` when unset. */
  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const text = this.text(key, false)?.toLowerCase();
    if (text === undefined || text === null) return fallback;
    if ((choices as readonly string[]).includes(text)) return text as T;
    this.problemWithValue(key, `is not one of ${choices.join(", ")}`);
    return fallback;
  }

  /** true/false, yes/no, on/off, 1/0, as configparser's getboolean() reads them. */
  boolean(key: string, fallback: boolean): boolean {
    const text = this.text(key, false)?.toLowerCase();
    if (text === undefined || text === null) return fallback;
    if (["true", "yes", "on", "1"].includes(text)) return true;
    if (["false", "no", "off", "0"].includes(text)) return false;
    this.problemWithValue(key, "is not true or false (also: yes/no, on/off, 1/0)");
    return fallback;
  }

  /** A queue name: required, at most 255 bytes, not in RabbitMQ's reserved `amq.` space. */
  queue(key: string): string | null {
    const name = this.text(key, true);
    if (name === null) return null;
    if (new TextEncoder().encode(name).length > 255) {
      this.problem(key, "is longer than the 255 bytes AMQP allows for a queue name");
    } else if (name.startsWith("amq.")) {
      this.problemWithValue(key, 'starts with "amq.", which RabbitMQ reserves for its own queues');
    }
    return name;
  }
}

function describe(rule: NumberRule, integer: boolean): string {
  const kind = integer ? "a whole number" : "a number";
  if (rule.min !== undefined && rule.max !== undefined) return `${kind} from ${rule.min} to ${rule.max}`;
  if (rule.min !== undefined) return `${kind} of at least ${rule.min}`;
  return kind;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !(value instanceof Secret)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

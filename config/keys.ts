/**
 * Every configuration key the service knows: section, default, whether it is
 * secret, and whether it came from the original service or is our own. The
 * configuration table in docs/configuration.md and the example INI are checked
 * against this list by tests.
 */

/** The INI sections: the original service's three, and `service` (ours: how the process itself is watched). */
export type Section = "ws_api" | "aws_mq" | "aws_cloudwatch" | "service";

/** One configuration key. `default` is the text form, as if written in the INI. */
export interface KeyDef {
  section: Section;
  key: string;
  default?: string;
  secret?: boolean;
  /** Added by this project; the original service does not know the key. */
  ours?: boolean;
}

/** All known keys, in the order the example INI and docs/configuration.md list them. */
export const KEYS: readonly KeyDef[] = [
  { section: "ws_api", key: "client_id" },
  { section: "ws_api", key: "client_secret", secret: true },
  { section: "ws_api", key: "api_host" },
  { section: "ws_api", key: "api_uri" },
  { section: "ws_api", key: "ws_ping_interval", default: "10" },
  { section: "ws_api", key: "ws_max_connect_attempts", default: "10" },
  { section: "ws_api", key: "ws_attempt_window_secs", default: "60" },
  { section: "ws_api", key: "ws_connect_timeout_secs", default: "10", ours: true },
  { section: "ws_api", key: "ws_ack_delay_ms", default: "100", ours: true },
  { section: "ws_api", key: "ws_max_buffered_bytes", default: "1048576", ours: true },
  { section: "ws_api", key: "ws_max_message_bytes", default: "67108864", ours: true },
  { section: "ws_api", key: "ws_no_delay", default: "true", ours: true },
  { section: "ws_api", key: "ws_coalesce_ms", default: "2", ours: true },
  { section: "ws_api", key: "ws_ca_file", ours: true },
  { section: "aws_mq", key: "mq_broker_id" },
  { section: "aws_mq", key: "mq_user_id" },
  { section: "aws_mq", key: "mq_password", secret: true },
  { section: "aws_mq", key: "mq_region" },
  { section: "aws_mq", key: "mq_port", default: "5671" },
  { section: "aws_mq", key: "mq_qname_to_ws" },
  { section: "aws_mq", key: "mq_qname_from_ws" },
  { section: "aws_mq", key: "mq_ttl_from_ws", default: "300000" },
  { section: "aws_mq", key: "mq_consumer_tag", default: "mqhandler" },
  { section: "aws_mq", key: "mq_url", secret: true, ours: true },
  { section: "aws_mq", key: "mq_ca_file", ours: true },
  { section: "aws_mq", key: "mq_prefetch", default: "2000", ours: true },
  { section: "aws_mq", key: "mq_buffer_limit", default: "10000", ours: true },
  { section: "aws_mq", key: "mq_buffer_bytes", default: "16777216", ours: true },
  { section: "aws_mq", key: "mq_queue_type", default: "classic", ours: true },
  { section: "aws_mq", key: "mq_max_connect_attempts", default: "5", ours: true },
  { section: "aws_mq", key: "mq_reconnect_delay_secs", default: "2", ours: true },
  { section: "aws_mq", key: "mq_heartbeat_secs", default: "30", ours: true },
  { section: "aws_cloudwatch", key: "cw_region" },
  { section: "aws_cloudwatch", key: "cw_log_group" },
  { section: "aws_cloudwatch", key: "cw_log_stream" },
  { section: "aws_cloudwatch", key: "cw_retention_days", default: "30" },
  { section: "aws_cloudwatch", key: "cw_metrics_namespace" },
  { section: "aws_cloudwatch", key: "cw_metrics_resolution", default: "10" },
  { section: "service", key: "http_listen", ours: true },
  { section: "service", key: "log_format", default: "text", ours: true },
];

/** `section.key` of every known key. */
export const KNOWN_KEYS: ReadonlySet<string> = new Set(KEYS.map((k) => `${k.section}.${k.key}`));

/** `section.key` of every key whose value is a secret. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(
  KEYS.filter((k) => k.secret).map((k) => `${k.section}.${k.key}`),
);

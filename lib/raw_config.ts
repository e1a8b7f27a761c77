/**
 * What every configuration source gives (an INI file, Parameter Store), and
 * the error for a configuration that cannot be used. Shared by config/, which
 * resolves the values, and the sources in handlers/, which must not import
 * config/.
 */

/** Raw values from one source: `values` maps `section.key` to its text. */
export interface RawConfig {
  /** Where the values came from, for messages: a file path or `ssm:/mq2wsbridge`. */
  source: string;
  values: ReadonlyMap<string, string>;
  /** How to name a key in a message; defaults to `section.key`. */
  label?: (key: string) => string;
  /**
   * Problems found before the values (INI syntax) or beside them (unreadable
   * CA files): reported first, in the same ConfigError as the value problems.
   */
  problems?: readonly string[];
}

/** The configuration could not be used; `problems` lists every reason. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly source: string, readonly problems: string[]) {
    super(`Cannot load configuration from ${source}:\n  ${problems.join("\n  ")}`);
  }
}

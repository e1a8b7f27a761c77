/**
 * Secrets and redaction. A `Secret` prints as `***` however it is printed;
 * a `Redactor` scrubs known secret values and credential-shaped text (URL
 * passwords, `jwt=` query parameters, bare JWTs) from any line before it is
 * written anywhere.
 */

/** A value that must never be printed: strings, JSON and inspection show `***`. */
export class Secret {
  #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The real value, for the one place that needs it (signing, connecting). */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "***";
  }
  toJSON(): string {
    return "***";
  }
  [Symbol.for("Deno.customInspect")](): string {
    return "Secret(***)";
  }
}

const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^@\s/]*@/gi;
const TOKEN_PARAM = /([?&](?:jwt|token|access_token|password)=)[^&\s"']+/gi;
// Three base64url segments starting with a JSON header: a JWT however it leaked.
const BARE_JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/g;
/** Values this short are not scrubbed by value: masking them would garble every line. */
const MIN_SCRUB_LENGTH = 4;

/** Hides the password and token parameters of a URL, keeping the rest readable. */
export function redactUrl(url: string): string {
  return url.replace(URL_CREDENTIALS, "$1:***@").replace(TOKEN_PARAM, "$1***");
}

/** Scrubs registered secret values and credential patterns out of text. */
export class Redactor {
  #values: string[] = [];

  /**
   * Registers a secret; its plain, URL-encoded and JSON-escaped forms will be
   * masked (a value holding `"`, `\` or a control character is escaped in a
   * quoted text field and in a JSON line).
   */
  add(secret: Secret | string): void {
    const value = typeof secret === "string" ? secret : secret.reveal();
    if (value.length < MIN_SCRUB_LENGTH) return;
    for (const form of [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) {
      if (!this.#values.includes(form)) this.#values.push(form);
    }
    // Longest first, so a secret that contains another is masked whole.
    this.#values.sort((a, b) => b.length - a.length);
  }

  /** Returns `text` with every secret and credential pattern replaced by `***`. */
  redact(text: string): string {
    return this.redactValues(redactUrl(text).replace(BARE_JWT, "***"));
  }

  /** Returns `text` with the registered secrets (in every form) replaced by `***`, patterns left alone. */
  redactValues(text: string): string {
    let out = text;
    for (const value of this.#values) {
      if (out.includes(value)) out = out.replaceAll(value, "***");
    }
    return out;
  }
}

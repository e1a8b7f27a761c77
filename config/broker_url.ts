/**
 * The broker's address from `[aws_mq]`, pure: the URL with the login in it
 * (percent-encoded as UTF-8, so any character survives; handlers/mq/protocol.ts
 * decodes it as UTF-8 for the client). A `mq_url` whose own user info is not valid
 * percent-encoding is refused here, as a configuration problem, instead of
 * failing in the client later ("URI malformed").
 */

/** A broker login, decoded. */
export interface Login {
  user: string;
  password: string;
}

/** Where the broker is and how to log in. */
export interface BrokerAddress {
  /** With the login percent-encoded into it (none: the client's default login applies). */
  url: string;
}

/** The Amazon MQ endpoint of `brokerId` in `region` (both already checked). */
export function amazonMqAddress(brokerId: string, region: string, port: number, login: Login): BrokerAddress {
  return withLogin(new URL(`amqps://${brokerId}.mq.${region}.amazonaws.com:${port}`), login);
}

/**
 * A `mq_url`, with `fallback` (mq_user_id/mq_password) when it carries no
 * login; or what is wrong with it, never quoting it (it may hold a password).
 */
export function mqUrlAddress(url: string, fallback: Login | null): BrokerAddress | { problem: string } {
  const expected = "(expected amqp://host:port or amqps://user:password@host:port)";
  if (!URL.canParse(url)) return { problem: `is not a URL ${expected}` };
  const parsed = new URL(url);
  if (parsed.protocol !== "amqp:" && parsed.protocol !== "amqps:") {
    return { problem: `must start with amqp:// or amqps://, not "${parsed.protocol}//"` };
  }
  if (parsed.hostname === "") return { problem: `has no host ${expected}` };
  const bare = new URL(parsed);
  bare.username = "";
  bare.password = "";
  if (parsed.username === "" && parsed.password === "") return withLogin(bare, fallback);
  const user = decode(parsed.username);
  const password = decode(parsed.password);
  if (user === null || password === null) {
    return {
      problem: `the ${user === null ? "user name" : "password"} is not valid URL encoding: each "%" must ` +
        `start a UTF-8 byte written as two hex digits; write "%" itself as %25 (value hidden)`,
    };
  }
  return withLogin(bare, { user, password });
}

/** `bare` with `login` percent-encoded (UTF-8) into it. */
function withLogin(bare: URL, login: Login | null): BrokerAddress {
  const full = new URL(bare);
  if (login) {
    // encodeURIComponent encodes every character that means something in user info (":", "@", "/", "%").
    full.username = encodeURIComponent(login.user);
    full.password = encodeURIComponent(login.password);
  }
  return { url: full.href };
}

function decode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

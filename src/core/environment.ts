/**
 * The one rule for "is this production?" and where the public development key
 * may be used. Pure: callers pass the value of NODE_ENV (and the address a
 * server listens on) in; nothing here reads the environment.
 *
 * Development is the exception that has to be named: NODE_ENV unset or empty,
 * or exactly `development`, `dev` or `test` (trimmed, any case). Every other
 * value — `Production`, `prod`, `staging`, `live`, a typo — is production, so a
 * careless spelling fails safe instead of running on the public key.
 */

/** The NODE_ENV values that mean development (compared trimmed and case-insensitively). */
export const DEVELOPMENT_NODE_ENVS: readonly string[] = ["development", "dev", "test"];

/** How a value of NODE_ENV reads. */
export interface RuntimeMode {
  /** True unless NODE_ENV is unset, empty, or one of {@link DEVELOPMENT_NODE_ENVS}. */
  readonly production: boolean;
  /** True when NODE_ENV names development explicitly (not merely unset or empty). */
  readonly declaredDevelopment: boolean;
  /** The value as a message shows it: `NODE_ENV=prod`, `NODE_ENV=" production "`, `NODE_ENV unset`. */
  readonly describe: string;
}

/**
 * Reads a value of NODE_ENV.
 *
 * @example
 * ```ts
 * runtimeMode("Production").production; // true
 * runtimeMode(undefined).production; // false
 * ```
 */
export function runtimeMode(nodeEnv: string | undefined): RuntimeMode {
  const value = (nodeEnv ?? "").trim().toLowerCase();
  const declaredDevelopment = DEVELOPMENT_NODE_ENVS.includes(value);
  const describe =
    nodeEnv === undefined || nodeEnv === ""
      ? "NODE_ENV unset"
      : `NODE_ENV=${/^[A-Za-z0-9_.-]+$/.test(nodeEnv) ? nodeEnv : JSON.stringify(nodeEnv.slice(0, 40))}`;
  return { production: value !== "" && !declaredDevelopment, declaredDevelopment, describe };
}

/**
 * True when `host` is a loopback address or `localhost`, which only this
 * machine can reach. A wildcard (`0.0.0.0`, `::`), a LAN address or a host name
 * is not.
 *
 * @example
 * ```ts
 * isLoopbackHost("127.0.0.1"); // true
 * isLoopbackHost("0.0.0.0"); // false
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice("::ffff:".length) : h;
  return /^127(\.(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){3}$/.test(v4);
}

/**
 * Why the public development key may not be used here, or undefined when it
 * may. It is refused in production, and by a server listening on `listenHost`
 * when other machines can reach that address, unless NODE_ENV declares
 * development: a reachable server signing with a public key is never right.
 * Commands that listen nowhere leave `listenHost` out.
 *
 * @example
 * ```ts
 * const why = devKeyRefusal(env.NODE_ENV, config.host);
 * if (why && keys.usingDevKey) throw new LicenseError("DEV_KEY_IN_PRODUCTION", why);
 * ```
 */
export function devKeyRefusal(
  nodeEnv: string | undefined,
  listenHost?: string,
): string | undefined {
  const mode = runtimeMode(nodeEnv);
  if (mode.production) {
    return `${mode.describe} counts as production (only NODE_ENV unset or one of ${DEVELOPMENT_NODE_ENVS.join(", ")} means development)`;
  }
  if (listenHost !== undefined && !mode.declaredDevelopment && !isLoopbackHost(listenHost)) {
    return `the server listens on ${listenHost}, which other machines can reach, and ${mode.describe} does not declare development (listen on 127.0.0.1, or set NODE_ENV=development)`;
  }
  return undefined;
}

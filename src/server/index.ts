/** The license server: the HTTP app and what it is built from. */
export { buildApp, BODY_LIMIT, DEFAULT_VERIFY_RATE_LIMIT } from "./app.js";
export type { AppOptions } from "./app.js";
export { ApiError, STATUS, statusOf, errorBody } from "./errors.js";
export { VERIFY_CODES } from "./verify.js";
export { Metrics } from "./metrics.js";
export { RateLimiter } from "./rate-limit.js";
export { startServer } from "./start.js";
export type { RunningServer, StartOptions } from "./start.js";

/** Prometheus metrics kept in process: requests by route and status, latencies, issuance, pool use. */
import type { PoolStats } from "../service/context.js";

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** The metrics of one server process. */
export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #latency = new Map<string, Histogram>();
  readonly #counters = new Map<string, number>();

  /** Records one finished request; `route` is the route template, never the raw URL. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const rk = `${method}\u0000${route}\u0000${status}`;
    this.#requests.set(rk, (this.#requests.get(rk) ?? 0) + 1);
    const lk = `${method}\u0000${route}`;
    let h = this.#latency.get(lk);
    if (!h) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#latency.set(lk, h);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  /** Adds to a plain counter such as `licenses_issued` (labels as `action`). */
  inc(name: string, action: string, by = 1): void {
    const k = `${name}\u0000${action}`;
    this.#counters.set(k, (this.#counters.get(k) ?? 0) + by);
  }

  /** The Prometheus text exposition. */
  render(pool: PoolStats): string {
    const out: string[] = [];
    out.push("# HELP dtl_http_requests_total HTTP requests by method, route and status.");
    out.push("# TYPE dtl_http_requests_total counter");
    for (const [k, n] of this.#requests) {
      const [m, r, s] = k.split("\u0000") as [string, string, string];
      out.push(`dtl_http_requests_total{method="${m}",route="${esc(r)}",status="${s}"} ${n}`);
    }
    out.push("# HELP dtl_http_request_duration_seconds Request latency by method and route.");
    out.push("# TYPE dtl_http_request_duration_seconds histogram");
    for (const [k, h] of this.#latency) {
      const [m, r] = k.split("\u0000") as [string, string];
      const labels = `method="${m}",route="${esc(r)}"`;
      BUCKETS.forEach((b, i) =>
        out.push(`dtl_http_request_duration_seconds_bucket{${labels},le="${b}"} ${h.counts[i]}`),
      );
      out.push(`dtl_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      out.push(`dtl_http_request_duration_seconds_sum{${labels}} ${h.sum}`);
      out.push(`dtl_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    out.push(
      "# HELP dtl_licenses_total Licenses written by this process, by action (issue, renew, import).",
    );
    out.push("# TYPE dtl_licenses_total counter");
    for (const [k, n] of this.#counters) {
      const [name, action] = k.split("\u0000") as [string, string];
      if (name === "licenses") out.push(`dtl_licenses_total{action="${esc(action)}"} ${n}`);
    }
    out.push("# HELP dtl_db_pool_connections Database connections by state.");
    out.push("# TYPE dtl_db_pool_connections gauge");
    out.push(`dtl_db_pool_connections{state="total"} ${pool.total}`);
    out.push(`dtl_db_pool_connections{state="idle"} ${pool.idle}`);
    out.push(`dtl_db_pool_connections{state="max"} ${pool.max}`);
    out.push("# HELP dtl_db_pool_waiting Requests waiting for a database connection.");
    out.push("# TYPE dtl_db_pool_waiting gauge");
    out.push(`dtl_db_pool_waiting ${pool.waiting}`);
    return out.join("\n") + "\n";
  }
}

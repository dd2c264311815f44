// retrying wraps fetch for the API client: a request that is safe to repeat (GET, HEAD, OPTIONS,
// PUT, DELETE) and met a 502, 503 or 504 is sent again, a few times, after the answer's Retry-After
// (at most maxWaitMs) or a short backoff. The server answers 503 while its database is unavailable,
// for a few seconds during a restart or fail-over; the dashboard then waits it out instead of failing.
const idempotent = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const unavailable = new Set([502, 503, 504]);

export type RetryOptions = { tries?: number; maxWaitMs?: number; sleep?: (ms: number) => Promise<void> };

export function retrying(
  next: (input: Request) => Promise<Response>,
  { tries = 4, maxWaitMs = 4000, sleep = (ms) => new Promise((r) => setTimeout(r, ms)) }: RetryOptions = {},
): (input: Request) => Promise<Response> {
  return async (input: Request) => {
    if (!idempotent.has(input.method.toUpperCase())) return next(input);
    let backoff = 250;
    for (let attempt = 1; ; attempt++) {
      const res = await next(attempt < tries ? input.clone() : input);
      if (!unavailable.has(res.status) || attempt >= tries || input.signal?.aborted) return res;
      const after = Number(res.headers.get("Retry-After"));
      await sleep(Math.min(after > 0 ? after * 1000 : backoff, maxWaitMs));
      backoff *= 2;
    }
  };
}

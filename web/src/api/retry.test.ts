import { describe, expect, it } from "vitest";
import { retrying } from "./retry";

// answers returns a fetch that gives the statuses in turn, and records the requests it got.
function answers(...statuses: number[]) {
  const got: string[] = [];
  const fetch = async (r: Request) => {
    got.push(r.method);
    const status = statuses[Math.min(got.length - 1, statuses.length - 1)];
    return new Response(null, { status, headers: status === 503 ? { "Retry-After": "2" } : {} });
  };
  return { fetch, got };
}

describe("retrying", () => {
  it("waits out a 503 on a read, honouring Retry-After", async () => {
    const waits: number[] = [];
    const { fetch, got } = answers(503, 503, 200);
    const res = await retrying(fetch, { sleep: async (ms) => void waits.push(ms) })(new Request("http://x/api/v2/workspaces"));
    expect(res.status).toBe(200);
    expect(got).toEqual(["GET", "GET", "GET"]);
    expect(waits).toEqual([2000, 2000]);
  });
  it("gives up after its tries and returns the last answer", async () => {
    const { fetch, got } = answers(503);
    const res = await retrying(fetch, { tries: 3, sleep: async () => {} })(new Request("http://x/y"));
    expect(res.status).toBe(503);
    expect(got.length).toBe(3);
  });
  it("never repeats a POST, which may have taken effect", async () => {
    const { fetch, got } = answers(503, 200);
    const res = await retrying(fetch, { sleep: async () => {} })(new Request("http://x/y", { method: "POST", body: "{}" }));
    expect(res.status).toBe(503);
    expect(got).toEqual(["POST"]);
  });
});

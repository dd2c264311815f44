import { describe, expect, it } from "vitest";
import { seconds, stageTimes, took } from "./timings";

describe("build timings", () => {
  it("say durations in seconds, then minutes", () => {
    expect(seconds(0.24)).toBe("0.2 s");
    expect(seconds(59.94)).toBe("59.9 s");
    expect(seconds(125)).toBe("2 min 5 s");
  });
  it("measure a build from being asked for to its end, and nothing while it runs", () => {
    expect(took("2026-12-04T10:00:00Z", "2026-12-04T10:00:03.5Z")).toBe("3.5 s");
    expect(took("2026-12-04T10:00:00Z", null)).toBe("");
  });
  it("put the wait for a worker before the stages", () => {
    const stages = [
      { stage: "init" as const, seconds: 1.2, started_at: "2026-12-04T10:00:00.5Z", ended_at: "2026-12-04T10:00:01.7Z" },
      { stage: "apply" as const, seconds: 2, started_at: "2026-12-04T10:00:01.7Z", ended_at: "2026-12-04T10:00:03.7Z" },
    ];
    expect(stageTimes({ created_at: "2026-12-04T10:00:00Z", started_at: "2026-12-04T10:00:00.25Z", stages })).toEqual([
      { stage: "queued", seconds: 0.25 },
      { stage: "init", seconds: 1.2 },
      { stage: "apply", seconds: 2 },
    ]);
    expect(stageTimes({ created_at: "2026-12-04T10:00:00Z", stages: [] })).toEqual([]);
  });
});

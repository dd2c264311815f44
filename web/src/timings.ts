import type { WorkspaceBuild } from "./api/client";

// seconds says a duration the way people read it: tenths under a minute, then minutes and seconds.
export function seconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

// took is how long a build took from being asked for to its end; "" while it runs.
export function took(created: string, completed?: string | null): string {
  if (!completed) return "";
  return seconds((new Date(completed).getTime() - new Date(created).getTime()) / 1000);
}

// stageTimes is a build's stages with the wait for a worker first (queued: asked for → started).
export function stageTimes(b: Pick<WorkspaceBuild, "created_at" | "started_at" | "stages">): { stage: string; seconds: number }[] {
  const out = (b.stages ?? []).map((s) => ({ stage: s.stage as string, seconds: s.seconds }));
  if (b.started_at) out.unshift({ stage: "queued", seconds: (new Date(b.started_at).getTime() - new Date(b.created_at).getTime()) / 1000 });
  return out;
}

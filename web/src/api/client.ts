// The dashboard's API client, generated from api/openapi.yaml (openapi-typescript types, called
// through openapi-fetch; reads are retried while the server is briefly unavailable). The session is the HttpOnly cookie sign-in sets; changes carry the
// Hearth-Csrf header the server requires of cookie-authenticated requests.
import createClient from "openapi-fetch";
import { retrying } from "./retry";
import type { components, paths } from "./schema";

export const api = createClient<paths>({
  baseUrl: "",
  credentials: "same-origin",
  headers: { "Hearth-Csrf": "1" },
  fetch: retrying((r) => globalThis.fetch(r)),
});

type S = components["schemas"];
export type Workspace = S["Workspace"];
export type WorkspaceBuild = S["WorkspaceBuild"];
export type WorkspaceAgent = S["WorkspaceAgent"];
export type Template = S["Template"];
export type Parameter = S["ProvisionerParameter"];
export type Diagnostic = S["ProvisionerDiagnostic"];
export type SourceWarning = S["Warning"];
export type Preset = S["ProvisionerPreset"];
export type User = S["UsersUser"];
export type Group = S["GroupsGroup"];
export type AccessList = S["AccessList"];
export type Problem = S["Problem"];

// problemText is one readable line for an error answer, with the field at fault.
export function problemText(error: unknown, fallback = "Something went wrong."): string {
  if (!error || typeof error !== "object") return fallback;
  const p = error as Partial<Problem>;
  const fields = (p.errors ?? []).map((e) => [e.location, e.message].filter(Boolean).join(": ")).filter(Boolean);
  const head = p.detail || p.title || fallback;
  return fields.length ? `${head} (${fields.join("; ")})` : head;
}

// fieldErrors maps body.FIELD locations of a problem to messages, for showing them by their inputs.
export function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const p = (error ?? {}) as Partial<Problem>;
  for (const e of p.errors ?? []) {
    if (e.location && e.message) out[e.location.replace(/^body\./, "")] = e.message;
  }
  return out;
}

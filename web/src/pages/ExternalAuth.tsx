import { useState } from "react";
import { useParams } from "react-router";
import { api, problemText } from "../api/client";
import { ago, usePoll } from "../ui";

// ExternalAuth lists the deployment's external auth providers (Git hosts and other OAuth2 apps) with
// the signed-in user's link to each: Link goes through the provider in this window and comes back
// here; Unlink removes the link and revokes its tokens. /external-auth/ID highlights one provider
// (where the CLI and in-workspace messages send people).
export function ExternalAuth() {
  const { provider } = useParams();
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [data, reload] = usePoll(async () => {
    const { data, error } = await api.GET("/api/v2/external-auth");
    if (error) setError(problemText(error));
    return data;
  }, 10000, []);
  const unlink = async (id: string) => {
    setError("");
    const { data, error } = await api.DELETE("/api/v2/external-auth/{provider}", { params: { path: { provider: id } } });
    if (error) setError(problemText(error));
    else setNotice(data.warning ?? (data.revoked ? `Unlinked ${id}; its tokens are revoked.` : `Unlinked ${id}.`));
    reload();
  };
  const here = (id: string) => `/api/v2/external-auth/${encodeURIComponent(id)}/login?redirect=${encodeURIComponent(`/external-auth/${id}`)}`;
  return (
    <section>
      <h1>External auth</h1>
      <p className="hint">Link your accounts once: templates that use a provider (<code>data "coder_external_auth"</code>) get its token
        at each build, and in your workspaces <code>git</code> and <code>coder external-auth access-token ID</code> get a fresh one.</p>
      {error && <p className="error" role="alert">{error}</p>}
      {notice && <p role="status">{notice}</p>}
      {!data ? <p role="status">Loading…</p> : data.providers.length === 0 ? <p>This deployment has no external auth providers (an operator adds them with <code>--external-auth-config</code>).</p> : (
        <table>
          <thead><tr><th>Provider</th><th>Type</th><th>Serves</th><th>Linked</th><th></th></tr></thead>
          <tbody>
            {data.providers.map((p) => (
              <tr key={p.id} className={p.id === provider ? "selected" : undefined} aria-label={p.display_name}>
                <td>{p.display_name} <small>({p.id})</small></td>
                <td>{p.type}</td>
                <td><code>{p.regex ?? ""}</code></td>
                <td>{p.linked ? <>Linked {ago(p.linked_at)}</> : "Not linked"}</td>
                <td>
                  {p.linked
                    ? <button onClick={() => void unlink(p.id)}>Unlink</button>
                    : <a className="button" href={here(p.id)}>Link {p.display_name}</a>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

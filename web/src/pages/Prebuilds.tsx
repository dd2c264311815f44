import { useState } from "react";
import { api, problemText } from "../api/client";
import { ago, usePoll } from "../ui";

// Prebuilds shows each preset's pool of prebuilt workspaces as the reconciler last saw it.
export function Prebuilds() {
  const [error, setError] = useState("");
  const [data] = usePoll(async () => {
    const { data, error } = await api.GET("/api/v2/prebuilds");
    if (error) setError(problemText(error));
    return data;
  }, 5000, []);
  return (
    <section>
      <h1>Prebuilt workspaces</h1>
      <p className="hint">A preset with <code>prebuilds {"{ instances = N }"}</code> keeps N workspaces built and running; creating a workspace with the preset takes one at once.
        {data?.seen_at && <> Last reconciled {ago(data.seen_at)}.</>}</p>
      {error && <p className="error" role="alert">{error}</p>}
      {!data ? <p role="status">Loading…</p> : data.pools.length === 0 ? <p>No preset asks for prebuilt workspaces.</p> : (
        <table>
          <thead><tr><th>Template</th><th>Preset</th><th>Desired</th><th>Running</th><th>Ready to claim</th><th>Starting</th><th>Failed (1 h)</th><th>Claimed</th><th>Next try</th></tr></thead>
          <tbody>
            {data.pools.map((p) => (
              <tr key={p.template_id + p.preset}>
                <td>{p.template_name}</td><td>{p.preset}</td><td>{p.desired}</td><td>{p.running}</td><td>{p.eligible}</td><td>{p.starting}</td><td>{p.failed}</td><td>{p.claimed}</td>
                <td>{p.backoff_until ? new Date(p.backoff_until).toLocaleTimeString() : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

import { Link } from "react-router";
import { api } from "../api/client";
import { ago, usePoll } from "../ui";

export function Templates() {
  const [list] = usePoll(async () => (await api.GET("/api/v2/templates")).data, 10000, []);
  if (!list) return <p role="status">Loading…</p>;
  return (
    <section>
      <h1>Templates</h1>
      {list.templates.length === 0 ? (
        <div className="empty"><p>No templates yet. Start from an example: <code>hearth templates init</code>, then <code>hearth templates push DIR</code>.</p></div>
      ) : (
        <table>
          <thead><tr><th>Name</th><th>Workspaces</th><th>Updated</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.templates.map((t) => (
              <tr key={t.id}>
                <td><Link to={`/templates/${encodeURIComponent(t.name)}`}>{t.display_name || t.name}</Link></td>
                <td>{t.workspace_count}</td>
                <td>{ago(t.updated_at)}</td>
                <td><Link className="button small" to={`/workspaces/new?template=${encodeURIComponent(t.name)}`}>Create workspace</Link></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

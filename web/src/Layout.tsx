import { createContext, useContext, useEffect, useState } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { api, type User } from "./api/client";

const UserContext = createContext<User | null>(null);
export const useUser = () => useContext(UserContext);

// Layout is the signed-in frame: it finds who is signed in (or sends the browser to set-up or
// sign-in) and shows the navigation.
export function Layout() {
  const [user, setUser] = useState<User | null>(null);
  const navigate = useNavigate();
  const location = useLocation();
  useEffect(() => {
    api.GET("/api/v2/users/me").then(async ({ data, response }) => {
      if (data) return setUser(data);
      if (response.status === 401) {
        const methods = await api.GET("/api/v2/users/auth-methods");
        const back = encodeURIComponent(location.pathname + location.search);
        navigate(methods.data?.setup_needed ? "/setup" : `/login?redirect=${back}`, { replace: true });
      }
    });
  }, [navigate, location.pathname, location.search]);
  if (!user) return <p className="loading" role="status">Loading…</p>;
  const signOut = async () => {
    await api.POST("/api/v2/users/logout");
    navigate("/login");
  };
  return (
    <UserContext.Provider value={user}>
      <header className="top">
        <strong className="brand">Hearth</strong>
        <nav aria-label="Main">
          <NavLink to="/workspaces">Workspaces</NavLink>
          <NavLink to="/templates">Templates</NavLink>
          {user.roles.some((r) => ["owner", "user-admin", "auditor"].includes(r)) && <NavLink to="/users">Users</NavLink>}
          <NavLink to="/groups">Groups</NavLink>
          {user.roles.some((r) => ["owner", "template-admin"].includes(r)) && <NavLink to="/provisioners">Provisioners</NavLink>}
          {user.roles.some((r) => ["owner", "template-admin", "auditor"].includes(r)) && <NavLink to="/prebuilds">Prebuilds</NavLink>}
          {user.roles.some((r) => ["owner", "auditor"].includes(r)) && <NavLink to="/audit">Audit</NavLink>}
          <NavLink to="/external-auth">External auth</NavLink>
          <NavLink to="/tokens">Tokens</NavLink>
        </nav>
        <span className="who">{user.username}</span>
        <button className="link" onClick={signOut}>Sign out</button>
      </header>
      <main>
        <Outlet />
      </main>
    </UserContext.Provider>
  );
}

/** The frame around every page: navigation, theme, the signed-in user. */
import { useState } from "react";
import { NavLink, Outlet } from "react-router";
import { useAuth } from "./auth";

export function Shell() {
  const { user, signOut } = useAuth();
  const [theme, setTheme] = useState(document.documentElement.dataset.theme ?? "light");
  function toggleTheme() {
    const next = theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("runyard.theme", next);
    setTheme(next);
  }
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Runyard</span>
        <nav>
          <NavLink to="/projects">Projects</NavLink>
          <NavLink to="/tasks" end>
            All tasks
          </NavLink>
          <NavLink to="/queues">Queues</NavLink>
          <NavLink to="/workers">Workers</NavLink>
        </nav>
        <span className="spacer" />
        <button className="icon" title="Switch theme" aria-label="Switch theme" onClick={toggleTheme}>
          {theme === "dark" ? "☀" : "☾"}
        </button>
        <span className="user" data-testid="user-name">
          {user?.name}
        </span>
        <button className="link" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main>
        <Outlet />
      </main>
    </div>
  );
}

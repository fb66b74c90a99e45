/** Who is signed in: the session lives in an HttpOnly cookie the page never sees. */
import { createContext, useCallback, useContext, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { Navigate, useLocation, useNavigate } from "react-router";
import { api, data, messageOf, onSignedOut, raw, type User } from "./api/client";

interface Auth {
  user: User | null;
  signIn(accessKey: string, secretKey: string): Promise<void>;
  signOut(): Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

export function useAuth(): Auth {
  return useContext(AuthContext)!;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  useEffect(() => {
    data(api.GET("/api/v1/me"))
      .then(setUser)
      .catch(() => setUser(null));
    return onSignedOut(() => setUser(null));
  }, []);
  const signIn = useCallback(async (access_key: string, secret_key: string) => {
    setUser(await raw<User>("POST", "/api/v1/auth/session", { access_key, secret_key }));
  }, []);
  const signOut = useCallback(async () => {
    await raw("DELETE", "/api/v1/auth/session");
    setUser(null);
  }, []);
  if (user === undefined) return null;
  return <AuthContext.Provider value={{ user, signIn, signOut }}>{children}</AuthContext.Provider>;
}

export function RequireAuth({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const location = useLocation();
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

export function SignInPage() {
  const { user, signIn } = useAuth();
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from ?? "/projects";
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  if (user) return <Navigate to={from} replace />;
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError("");
    try {
      await signIn(String(form.get("access_key")), String(form.get("secret_key")));
      navigate(from, { replace: true });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="signin">
      <form onSubmit={submit} className="card">
        <h1>Runyard</h1>
        <p className="muted">Sign in with an access key and secret, the same key pair the CLI uses.</p>
        <label>
          Access key
          <input name="access_key" autoComplete="username" required autoFocus />
        </label>
        <label>
          Secret key
          <input name="secret_key" type="password" autoComplete="current-password" required />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </div>
  );
}

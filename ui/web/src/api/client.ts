/** The typed API client: paths and bodies come from the daemon's OpenAPI document. */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Task = Schemas["Task"];
export type TaskStatus = Schemas["TaskStatus"];
export type Project = Schemas["Project"];
export type User = Schemas["User"];
/** A table row; its values are JSON (text, numbers, NaN/±Inf as strings, tags as lists). */
export type TableRow = Omit<Schemas["TableRow"], "values"> & { values: unknown[] };
export type TablePage = Omit<Schemas["TablePage"], "rows"> & { rows: TableRow[] };

/** An error the API answered, with its readable message and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Every request carries the client header: the session cookie alone authorises only reads. */
const headers = { "X-Runyard-Client": "web" };

/** Listeners told when the session is gone (401), so the app can show the sign-in page. */
const signedOut = new Set<() => void>();
export function onSignedOut(f: () => void): () => void {
  signedOut.add(f);
  return () => signedOut.delete(f);
}

async function errorOf(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let code: string | undefined;
  let field: string | undefined;
  try {
    const body = await response.clone().json();
    message = body?.error?.message ?? message;
    code = body?.error?.code;
    field = body?.error?.details?.[0]?.field ?? body?.error?.field;
  } catch {
    // Not JSON: keep the status line.
  }
  if (response.status === 401) signedOut.forEach((f) => f());
  return new ApiError(response.status, message, code, field);
}

const throwOnError: Middleware = {
  async onResponse({ response }) {
    if (!response.ok) throw await errorOf(response);
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "", headers, credentials: "same-origin" });
api.use(throwOnError);

/** Unwraps an openapi-fetch result (errors were thrown by the middleware). */
export async function data<T>(p: Promise<{ data?: T }>): Promise<T> {
  return (await p).data as T;
}

/** A request the OpenAPI paths do not type by their query (the table's query strings). */
export async function raw<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** A readable message for anything thrown. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

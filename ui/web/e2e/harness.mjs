// End-to-end harness: a real `runyard server` (and agent) on a random loopback port, filled
// through the API, driven by Debian's Chromium through playwright-core.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
export const BIN = process.env.RUNYARD_BIN ?? join(root, "target/debug/runyard");
export const ARTIFACTS = process.env.RUNYARD_UI_ARTIFACTS ?? join(root, "target/ui-e2e");
mkdirSync(ARTIFACTS, { recursive: true });

/** Starts a daemon with a fresh data dir; `stop()` ends it and removes the data. */
export async function startServer(args = []) {
  const dataDir = mkdtempSync(join(tmpdir(), "runyard-ui-"));
  const child = spawn(BIN, ["server", "--bind", "127.0.0.1:0", "--data-dir", dataDir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUNYARD_LOG: "warn" },
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const url = await new Promise((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`the daemon did not start: ${stderr}`)), 30000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on("exit", (code) => fail(new Error(`the daemon exited (${code}): ${stderr}`)));
  });
  const creds = readFileSync(join(dataDir, "credentials.toml"), "utf8");
  const accessKey = /access_key = "(.*)"/.exec(creds)[1];
  const secretKey = /secret_key = "(.*)"/.exec(creds)[1];
  const auth = "Basic " + Buffer.from(`${accessKey}:${secretKey}`).toString("base64");
  const children = [child];
  const server = {
    url,
    dataDir,
    accessKey,
    secretKey,
    /** A JSON request with the admin key pair; throws with the API's message on an error. */
    async api(method, path, body) {
      const r = await fetch(url + path, {
        method,
        headers: { Authorization: auth, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    },
    /** Starts an agent on `queues`, served by this daemon. */
    startAgent(queues = ["default"]) {
      const agent = spawn(BIN, ["agent", "--server", url, ...queues.flatMap((q) => ["--queue", q]), "--cache-dir", join(dataDir, "agent-cache")], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, RUNYARD_ACCESS_KEY: accessKey, RUNYARD_SECRET_KEY: secretKey, RUNYARD_LOG: "warn" },
      });
      children.push(agent);
      return agent;
    },
    async stop() {
      for (const c of children.reverse()) {
        c.kill("SIGTERM");
        await new Promise((ok) => (c.exitCode !== null ? ok() : c.on("exit", ok)));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Creates tasks (and their project); returns them in creation order. */
export async function createTasks(server, project, specs) {
  const tasks = [];
  for (const s of specs) {
    tasks.push(await server.api("POST", "/api/v1/tasks", { project, ...s }));
  }
  return tasks;
}

/** Reports scalars: `points` is { task, metric, variant, values: [..] } (iteration = index). */
export async function reportScalars(server, series) {
  const events = series.flatMap((s) => s.values.map((value, iteration) => ({ type: "scalar", task: s.task, metric: s.metric, variant: s.variant, iteration, value })));
  await server.api("POST", "/api/v1/events/batch", { events });
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}

/** A page signed in through the sign-in form. */
export async function signedIn(browser, server, path = "/projects") {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(server.url + path);
  await page.getByLabel("Access key").fill(server.accessKey);
  await page.getByLabel("Secret key").fill(server.secretKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("user-name").waitFor();
  return page;
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Polls `f` until it returns a truthy value (or throws after `ms`). */
export async function eventually(f, ms = 10000, what = "condition") {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${last}`);
}

/** The text of the grid's cells in one column, top to bottom (rendered rows). */
export async function columnTexts(page, column) {
  return page.$$eval(`.grid-body .row`, (rows, column) =>
    rows
      .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
      .map((r) => r.querySelector(`[data-column="${column}"]`)?.textContent ?? ""),
  column);
}

// The web UI's figures, in Debian's Chromium against a real daemon:
//   node e2e/bench.mjs --data-dir DIR [--project bench/table] [--runs 5]
// DIR holds a database seeded by `runyard bench table --tasks 100000 --seed-sql --data-dir DIR`
// (its daemon's key pair is the bench's). Measured, as medians over the runs:
// - navigation → table interactive (rows rendered, count shown), for the big project and, as the
//   baseline in the same run, a project of one task;
// - a filter change (a tag ticked in the column filter) → the grid re-rendered;
// - scrolling the grid (rows loading as it goes): frame intervals from requestAnimationFrame;
// - the first load's JavaScript and CSS as served (gzip), and the lazily loaded Plotly.
import { spawn } from "node:child_process";
import { request } from "node:http";
import { parseArgs } from "node:util";
import { launch } from "./harness.mjs";

const { values: args } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    project: { type: "string", default: "bench/table" },
    runs: { type: "string", default: "5" },
    bin: { type: "string", default: new URL("../../../target/release/runyard", import.meta.url).pathname },
  },
});
if (!args["data-dir"]) throw new Error("--data-dir DIR: a data dir seeded by `runyard bench table --seed-sql`");
const KEY = "BENCHACCESSKEY0000000000";
const SECRET = "bench-secret-bench-secret-bench-secret-00000000";
const runs = Number(args.runs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

const daemon = spawn(args.bin, ["server", "--bind", "127.0.0.1:0", "--data-dir", args["data-dir"]], {
  stdio: ["ignore", "pipe", "inherit"],
  env: { ...process.env, RUNYARD_ACCESS_KEY: KEY, RUNYARD_SECRET_KEY: SECRET, RUNYARD_LOG: "warn" },
});
const url = await new Promise((ok) => {
  let out = "";
  daemon.stdout.on("data", (d) => {
    out += d;
    const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
    if (m) ok(m[1]);
  });
});
const auth = "Basic " + Buffer.from(`${KEY}:${SECRET}`).toString("base64");
const api = async (method, path, body) => {
  const r = await fetch(url + path, { method, headers: { Authorization: auth, "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
};
/** Bytes on the wire of a gzip-served file. */
const gzipBytes = (path) =>
  new Promise((ok, fail) => {
    const u = new URL(url + path);
    request({ host: u.hostname, port: u.port, path: u.pathname, headers: { "accept-encoding": "gzip" } }, (res) => {
      let n = 0;
      res.on("data", (d) => (n += d.length));
      res.on("end", () => ok(n));
    })
      .on("error", fail)
      .end();
  });

try {
  const projects = await api("GET", "/api/v1/projects");
  const big = projects.find((p) => p.name === args.project);
  if (!big) throw new Error(`no project ${args.project}: seed the data dir first`);
  const total = (await api("GET", `/api/v1/table/count?project=${big.id}`)).count;
  let one = (await api("GET", "/api/v1/projects")).find((p) => p.name === "bench-ui/one");
  if (!one) {
    await api("POST", "/api/v1/tasks", { name: "alone", project: "bench-ui/one" });
    one = (await api("GET", "/api/v1/projects")).find((p) => p.name === "bench-ui/one");
  }

  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.goto(url + "/login");
  await page.getByLabel("Access key").fill(KEY);
  await page.getByLabel("Secret key").fill(SECRET);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("user-name").waitFor();

  /** Navigation start → rows rendered and the count shown (the table answers input). */
  async function interactive(project, count) {
    await page.goto("about:blank");
    const t0 = Date.now();
    await page.goto(`${url}/projects/${project.id}/tasks`);
    await page.locator(".grid-body .row").first().waitFor();
    await page.waitForFunction((c) => document.querySelector('[data-testid="task-count"]')?.textContent === `${c} task${c === 1 ? "" : "s"}`, count);
    return Date.now() - t0;
  }
  const nav = { big: [], one: [] };
  for (let i = 0; i < runs; i++) {
    nav.one.push(await interactive(one, one.task_count || 1));
    nav.big.push(await interactive(big, total));
  }

  // A filter change: tick a tag in the TAGS filter (and untick it), timed in the page from the
  // click to the grid showing the new rows.
  const filter = [];
  const counted = [];
  await page.locator('.grid-head [data-column="tags"] .filter-btn').click();
  await page.locator('.popup [data-filter="tags"] label').first().waitFor();
  for (let i = 0; i < runs * 2; i++) {
    const [rows, count] = await page.evaluate(async () => {
      const ids = () => [...document.querySelectorAll(".grid-body .row")].map((r) => r.dataset.id).join();
      const countText = () => document.querySelector('[data-testid="task-count"]').textContent;
      const [beforeRows, beforeCount] = [ids(), countText()];
      const box = document.querySelector('.popup [data-filter="tags"] label [role="checkbox"]');
      const t0 = performance.now();
      // Each click moves the first tag along: included, excluded (NOT), cleared.
      box.click();
      const until = (changed) =>
        new Promise((ok) => {
          const check = () => (changed() ? requestAnimationFrame(() => setTimeout(() => ok(performance.now() - t0))) : requestAnimationFrame(check));
          check();
        });
      const rowsAt = until(() => ids() !== beforeRows);
      const countAt = until(() => countText() !== beforeCount);
      return [await rowsAt, await countAt];
    });
    filter.push(rows);
    counted.push(count);
  }
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Clear all filters" }).click();
  await page.waitForFunction((c) => document.querySelector('[data-testid="task-count"]')?.textContent === `${c} tasks`, total);

  // Scrolling: 100 px a frame for 400 frames, rows loading as the grid runs out.
  const frames = await page.evaluate(async () => {
    const grid = document.querySelector(".grid");
    const times = [];
    await new Promise((ok) => {
      let n = 0;
      let last = performance.now();
      const step = (now) => {
        times.push(now - last);
        last = now;
        grid.scrollTop += 100;
        if (++n < 400) requestAnimationFrame(step);
        else ok();
      };
      requestAnimationFrame(step);
    });
    return { times: times.slice(1), rows: document.querySelectorAll(".grid-body .row").length, top: grid.scrollTop };
  });
  const loadedRows = await page.evaluate(() => Number(document.querySelector(".grid").getAttribute("aria-rowcount")));

  // What the first load fetches (gzip, as served), and Plotly (fetched when a plot is shown).
  const html = await (await fetch(url + "/")).text();
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  let firstLoad = 0;
  for (const a of assets) firstLoad += await gzipBytes(a);
  const plotlyFile = (await (await fetch(url + assets.find((a) => a.endsWith(".js")))).text()).match(/(plotly[^"'`/]*\.js)/)?.[1];
  const plotly = plotlyFile ? await gzipBytes(`/assets/${plotlyFile}`) : 0;
  await browser.close();

  const fps = 1000 / median(frames.times);
  const slow = frames.times.filter((t) => t > 1000 / 60 * 1.5).length;
  console.log(`project of ${total} tasks (${args.project}); baseline: a project of ${one.task_count || 1} task(s); ${runs} runs, medians`);
  console.log(`navigation -> table interactive: ${median(nav.big)} ms (baseline ${median(nav.one)} ms, ratio ${(median(nav.big) / median(nav.one)).toFixed(2)}); all: ${nav.big.join(", ")} ms`);
  console.log(`filter change -> grid re-rendered: ${median(filter).toFixed(0)} ms (p90 ${pct(filter, 0.9).toFixed(0)} ms; all: ${filter.map((f) => f.toFixed(0)).join(", ")}); the count updated: ${median(counted).toFixed(0)} ms`);
  console.log(`scrolling ${frames.times.length} frames at 100 px/frame (${loadedRows} rows loaded as it went): median frame ${median(frames.times).toFixed(1)} ms (${fps.toFixed(0)} fps), p95 ${pct(frames.times, 0.95).toFixed(1)} ms, frames over 25 ms: ${slow}`);
  console.log(`first load (JS + CSS, gzip as served): ${(firstLoad / 1024).toFixed(0)} KiB; Plotly, loaded lazily: ${(plotly / 1024).toFixed(0)} KiB`);
} finally {
  daemon.kill("SIGTERM");
}

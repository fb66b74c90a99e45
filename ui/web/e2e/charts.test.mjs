// Charts that use the screen: a hundred compared tasks in a grid of charts with one compact,
// filterable legend; a series hovered in one chart is highlighted in the others; full screen;
// y-axis ticks precise enough to differ.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTasks, eventually, launch, reportScalars, screenshot, signedIn, startServer } from "./harness.mjs";

const N = 100;
let server, browser, page, tasks, project;
before(async () => {
  server = await startServer();
  const specs = Array.from({ length: N }, (_, i) => ({ name: `sweep-${String(i).padStart(3, "0")}`, type: "training" }));
  tasks = await createTasks(server, "sweep", specs);
  project = tasks[0].project;
  // Spread out: task i's loss is 1/(k+1) shifted by i/N, so every line is apart from the next.
  for (let at = 0; at < N; at += 25) {
    await reportScalars(
      server,
      tasks.slice(at, at + 25).flatMap((t, j) => {
        const i = at + j;
        return [
          { task: t.id, metric: "loss", variant: "train", values: Array.from({ length: 20 }, (_, k) => 1 / (k + 1) + i / N) },
          { task: t.id, metric: "loss", variant: "val", values: Array.from({ length: 20 }, (_, k) => 1.2 / (k + 1) + i / N) },
          { task: t.id, metric: "accuracy", variant: "val", values: Array.from({ length: 20 }, (_, k) => 0.3 + k * 0.02 + i / (2 * N)) },
        ];
      }),
    );
  }
  await server.api("POST", "/api/v1/events/batch", { events: tasks.map((t, i) => ({ type: "single", task: t.id, name: "test_accuracy", value: 0.5 + i / (2 * N) })) });
  browser = await launch();
  page = await signedIn(browser, server, `/projects/${project}/tasks?view=compare`);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const compare = () => page.getByRole("region", { name: "Comparison" });
const card = (title) => compare().locator(`.chart-card[data-card="${title}"]`);

test("a hundred compared tasks: the first row of charts above the fold, three columns at 1440 px", async () => {
  await compare().getByText(`${N} tasks`).waitFor();
  await card("loss › train").locator("canvas").waitFor();
  await card("Summary").locator(".main-svg").first().waitFor({ timeout: 20000 });
  const boxes = await compare()
    .locator(".chart-card")
    .evaluateAll((cards) => cards.map((c) => ({ title: c.dataset.card, ...c.getBoundingClientRect().toJSON() })));
  const firstRow = boxes.filter((b) => Math.abs(b.top - boxes[0].top) < 2);
  assert.equal(firstRow.length, 3, JSON.stringify(boxes.slice(0, 4)));
  for (const b of firstRow) assert.ok(b.bottom <= 900, `${b.title} ends at ${b.bottom}px, below the fold`);
  // The legend is one compact, scrollable list of every task.
  const legend = compare().getByRole("group", { name: "Series" });
  assert.equal(await legend.locator("li").count(), N);
  const height = await legend.evaluate((l) => l.getBoundingClientRect().height);
  assert.ok(height < 110, `the legend is ${height}px high`);
  // Every task has its own colour.
  const colours = await legend.locator("li i").evaluateAll((is) => is.map((i) => i.style.background));
  assert.equal(new Set(colours).size, N);
  await screenshot(page, "charts-100-light");
});

test("hovering a series in one chart highlights it in every chart, with its values in a tooltip", async () => {
  const over = card("loss › train").locator(".u-over");
  const box = await over.boundingBox();
  // Sweep the pointer down the middle of the plot until it is near a line.
  let key = "";
  for (let y = 0.2; y < 0.95 && !key; y += 0.05) {
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * y);
    key = await card("loss › train").locator("[data-chart]").getAttribute("data-highlight");
  }
  assert.ok(key, "a series highlighted under the pointer");
  const task = tasks.find((t) => t.id === key);
  assert.ok(task, key);
  for (const other of ["loss › val", "accuracy › val"]) {
    await eventually(async () => (await card(other).locator("[data-chart]").getAttribute("data-highlight")) === key, 5000, `${task.name} highlighted in ${other}`);
  }
  const tip = card("loss › train").locator(".chart-tip");
  assert.ok(await tip.isVisible());
  assert.equal(await tip.locator(".focused span").textContent(), task.name);
  assert.match(await tip.locator(".x").textContent(), /^iteration \d+$/);
  assert.equal(await compare().locator(`.chart-legend button.hl[data-series="${key}"]`).count(), 1);
  await screenshot(page, "charts-hover");
  // Leaving the chart ends the highlight everywhere.
  await page.mouse.move(5, 5);
  await eventually(async () => (await card("accuracy › val").locator("[data-chart]").getAttribute("data-highlight")) === "", 5000, "no highlight");
  // Hovering a legend entry highlights its task in every chart.
  await compare().locator(`.chart-legend button[data-series="${tasks[7].id}"]`).hover();
  for (const title of ["loss › train", "accuracy › val"]) {
    await eventually(async () => (await card(title).locator("[data-chart]").getAttribute("data-highlight")) === tasks[7].id, 5000, `legend hover in ${title}`);
  }
});

test("the legend filters, shows only the matching series, and shows all again", async () => {
  const legend = compare().getByRole("group", { name: "Series" });
  await legend.getByLabel("Filter series").fill("sweep-01");
  await eventually(async () => (await legend.locator("li").count()) === 10, 5000, "ten entries sweep-010…019");
  await legend.getByRole("button", { name: "Show only these 10" }).click();
  await legend.getByText(`10 of ${N} shown`).waitFor();
  await legend.getByLabel("Filter series").fill("");
  assert.equal(await legend.locator('li button[aria-pressed="false"]').count(), N - 10);
  await legend.getByRole("button", { name: "Show all" }).click();
  assert.equal(await legend.locator('li button[aria-pressed="false"]').count(), 0);
});

test("a chart goes full screen and back with Escape", async () => {
  await card("accuracy › val").getByRole("button", { name: "Full screen: accuracy › val" }).click();
  const full = page.getByRole("dialog", { name: "accuracy › val" });
  await full.waitFor();
  await eventually(async () => (await full.locator("canvas").evaluate((c) => c.getBoundingClientRect().height)) > 600, 5000, "a tall chart");
  const width = await full.evaluate((f) => f.getBoundingClientRect().width);
  assert.ok(width > 1350, `${width}px wide`);
  await screenshot(page, "charts-full-screen");
  await page.keyboard.press("Escape");
  await eventually(async () => (await page.getByRole("dialog", { name: "accuracy › val" }).count()) === 0, 5000, "back in the grid");
});

test("the dark theme draws the same grid", async () => {
  await page.getByRole("button", { name: "Switch theme" }).click();
  await page.reload();
  await card("loss › train").locator("canvas").waitFor();
  await card("Summary").locator(".main-svg").first().waitFor({ timeout: 20000 });
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await screenshot(page, "charts-100-dark");
  await page.getByRole("button", { name: "Switch theme" }).click();
});

test("y-axis ticks of close values differ (0.1775, 0.1776 — not 0.178, 0.178)", async () => {
  const [disk] = await createTasks(server, "machines", [{ name: "disk", type: "monitor" }]);
  await reportScalars(server, [{ task: disk.id, metric: "disk_free_percent", variant: "root", values: Array.from({ length: 20 }, (_, k) => 0.17752 + k * 0.00001) }]);
  await page.goto(`${server.url}/projects/${disk.project}/tasks?view=details&task=${disk.id}`);
  const details = page.getByRole("complementary", { name: "Task details" });
  await details.getByRole("tab", { name: "Scalars" }).click();
  const chart = details.locator('[data-chart="disk_free_percent"]');
  await chart.locator("canvas").waitFor();
  const ticks = (await eventually(() => chart.getAttribute("data-yticks"), 5000, "y ticks")).split("|");
  assert.ok(ticks.length >= 3, ticks.join(" "));
  assert.equal(new Set(ticks).size, ticks.length, `repeated tick labels: ${ticks.join(" ")}`);
});

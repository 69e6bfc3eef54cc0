// Opens every page of a data-docs site in headless Chromium and reports what a reader would
// meet: console errors, network requests, the status grid's shape, the findings on each
// partition page and whether each link resolves to a generated file. Prints one JSON object;
// the Rust test (`cli/tests/docs.rs`) judges it. Screenshots of the three kinds of page go to
// the folder given.
//
// usage: node docs.cjs SITE_DIR [SCREENSHOT_DIR [PARTITION_PAGE,...]]
const fs = require("fs");
const path = require("path");
const { pathToFileURL, fileURLToPath } = require("url");
const { chromium } = require("playwright-core");

async function main() {
  const [site, shots, wanted] = process.argv.slice(2);
  const partitionShots = new Set((wanted || "").split(",").filter(Boolean));
  const browser = await chromium.launch({
    executablePath: process.env.LAKEWATCH_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const root = path.resolve(site);
  const queue = [path.join(root, "index.html")];
  const seen = new Set(queue);
  const pages = [];
  while (queue.length) {
    const file = queue.shift();
    const page = await context.newPage();
    const consoleErrors = [];
    const requests = [];
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    page.on("request", (r) => {
      if (!(r.isNavigationRequest() && r.frame() === page.mainFrame())) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    const found = await page.evaluate(() => ({
      title: document.title,
      csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content || null,
      scripts: document.querySelectorAll("script").length,
      findings: [...document.querySelectorAll("li.finding, figure.price")].map((e) => ({
        kind: e.dataset.kind || null, symbol: e.dataset.symbol || null, column: e.dataset.column || null,
      })),
      grid: document.querySelector("table.grid") ? {
        days: document.querySelectorAll("table.grid tr[data-day]").length,
        closed: document.querySelectorAll('table.grid tr[data-day] td.cell[data-status="closed"]').length,
        checks: document.querySelectorAll("table.grid tr:first-child th").length - 1,
        cells: document.querySelectorAll("table.grid td.cell").length,
      } : null,
      links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
      svgs: document.querySelectorAll("svg").length,
    }));
    const links = [];
    for (const href of found.links) {
      const url = new URL(href);
      if (url.protocol !== "file:") { links.push({ href, exists: false }); continue; }
      const target = fileURLToPath(url);
      const exists = fs.existsSync(target);
      links.push({ href: path.relative(root, target), exists });
      if (exists && target.endsWith(".html") && target.startsWith(root) && !seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
    const rel = path.relative(root, file);
    pages.push({ path: rel, consoleErrors, requests, ...found, links });
    if (shots) {
      const kind = rel === "index.html" ? "index" : rel.split("/").length === 2 ? "dataset" : "partition";
      const name = path.join(shots, `${kind}-${rel.replaceAll("/", "_").replace(/\.html$/, "")}.png`);
      if (kind !== "partition" || partitionShots.has(rel)) {
        await page.screenshot({ path: name, fullPage: true });
      }
    }
    await page.close();
  }
  await browser.close();
  process.stdout.write(JSON.stringify({ pages }));
}

main().catch((e) => { console.error(String(e.stack || e)); process.exit(2); });

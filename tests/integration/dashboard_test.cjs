// The dashboard in headless Chromium (playwright-core, the Debian chromium binary), against a
// running daemon fed by StatsD. Run by test_dashboard.sh (check) and bench/dashboard.sh (bench).
//   node dashboard_test.cjs check URL ARTIFACT_DIR
//   node dashboard_test.cjs bench URL
// Prints ok:/FAIL: lines; exits 1 on the first failed check.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [mode, url, artifacts] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const XSS_FUNCTION = '<img/src=x/onerror=alert(1)>';
const XSS_METRIC = '<img src=x onerror=alert(1)>';
const ANOMALY_DESC = 'mempool <b>too</b> big <img src=x onerror=alert(2)>';
// charts the feed fills (the host ones — GPU, quantum, P2P, temperature — may say "not measured")
const REQUIRED = ['cpu', 'cpu-cores', 'memory', 'disk-io', 'disk-usage', 'net-io', 'node-tps', 'node-validation',
  'node-blocks', 'node-blocksize', 'node-mempool', 'cons-finality', 'cons-messages', 'cons-participation',
  'contract-rate', 'contract-time', 'contract-gas', 'contract-calls', 'inf-throughput', 'inference-model',
  'memory-gc'];

let failed = false;
function ok(msg) { console.log('ok: ' + msg); }
function fail(msg) { console.log('FAIL: ' + msg); failed = true; }

function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

// a page that records what would make the test fail
async function watchedPage(browser, viewport) {
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  const problems = [];
  const requests = [];
  await page.addInitScript(() => {
    window.__dialogs = [];
    for (const f of ['alert', 'confirm', 'prompt']) {
      window[f] = (m) => { window.__dialogs.push(f + ':' + String(m)); };
    }
  });
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss().catch(() => {}); });
  page.on('requestfailed', (r) => problems.push('request failed: ' + r.url() + ' ' + (r.failure() || {}).errorText));
  page.on('request', (r) => requests.push(r.url()));
  page.on('response', (r) => { if (r.status() >= 400) problems.push('HTTP ' + r.status() + ': ' + r.url()); });
  return { ctx, page, problems, requests };
}

// the first full render, or a failure that says what the page shows and what went wrong
async function waitReady(page, problems) {
  try {
    await page.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
  } catch (e) {
    const st = await page.textContent('#status').catch(() => '?');
    throw new Error('no first render within 20 s; status line: ' + JSON.stringify(st) +
      (problems.length ? '; ' + problems.join('; ') : ''));
  }
}

function charts(page) {
  return page.$$eval('figure.chart', (figs) => figs.map((f) => ({
    chart: f.dataset.chart, points: +f.dataset.points, host: f.dataset.host === '1',
    note: f.classList.contains('empty') ? f.querySelector('.note').textContent : '',
    legend: f.querySelector('.legend').textContent })));
}

async function check() {
  const t0 = Date.now();
  const browser = await launch();
  try {
    const { page, problems, requests } = await watchedPage(browser, { width: 1280, height: 900 });
    const resp = await page.goto(url + '/', { waitUntil: 'load' });
    const ctype = resp.headers()['content-type'] || '';
    if (!ctype.startsWith('text/html')) return fail('GET / is not the dashboard (' + ctype + ')');
    ok('GET / serves the dashboard (' + ctype + ')');
    await waitReady(page, problems);
    ok('first render after ' + (Date.now() - t0) + ' ms');

    // every chart the feed fills has points; the others say the host cannot measure them
    try {
      await page.waitForFunction((req) => req.every((id) =>
        Array.from(document.querySelectorAll('figure.chart[data-chart="' + id + '"]')).some((f) => +f.dataset.points > 1)),
      REQUIRED, { timeout: 20000, polling: 250 });
    } catch (e) { /* reported below */ }
    const all = await charts(page);
    for (const id of REQUIRED) {
      const c = all.filter((x) => x.chart === id);
      if (!c.length) fail('no chart ' + id);
      else if (!c.every((x) => x.points > 0)) fail('chart ' + id + ' has no data points');
    }
    for (const c of all) {
      if (c.points > 0) continue;
      if (!c.host) fail('chart ' + c.chart + ' is empty (' + c.note + ')');
      else if (c.note !== 'not measured on this host') fail('chart ' + c.chart + ' is empty without saying so');
    }
    const models = all.filter((c) => c.chart === 'inference-model').length;
    if (models < 2) fail('expected a latency chart for each of the 2 models, found ' + models);
    const filled = all.filter((c) => c.points > 0);
    ok(all.length + ' charts, ' + filled.length + ' with data (' +
      filled.map((c) => c.chart + ':' + c.points).join(' ') + '); not measured here: ' +
      (all.filter((c) => c.points === 0).map((c) => c.chart).join(' ') || 'none'));
    const quantum = await page.$('section[data-group="quantum"]');
    if (!quantum) fail('no quantum panel although quantum_visualization is on');

    // the function named like an HTML element is a legend's text
    const calls = all.find((c) => c.chart === 'contract-calls');
    if (!calls || !calls.legend.includes(XSS_FUNCTION)) fail('the function ' + XSS_FUNCTION + ' is not in the calls legend');
    else ok('the function ' + XSS_FUNCTION + ' is shown as text');

    // the custom metric and its tags, named like HTML elements, are table text
    const csel = '#custom tbody tr';
    await page.waitForSelector(csel, { timeout: 10000 });
    const rows = await page.$$eval(csel, (trs) => trs.map((tr) => ({
      name: tr.querySelector('.name').textContent, labels: tr.querySelector('.labels').textContent,
      elements: tr.querySelectorAll('img, b, script').length })));
    const crow = rows.find((x) => x.name === XSS_METRIC);
    if (!crow) fail('the custom metric ' + XSS_METRIC + ' is not listed: ' + JSON.stringify(rows));
    else if (crow.labels !== XSS_METRIC + ', env=' + XSS_METRIC || crow.elements) fail('its tags read ' + JSON.stringify(crow));
    else ok('the custom metric ' + XSS_METRIC + ' and its tags are shown as text (' + rows.length + ' custom series)');

    // the anomaly, in the timeline and the list, its description as text
    const sel = '#anomaly-list > li[data-type="pool_high"]';
    await page.waitForSelector(sel, { timeout: 20000 });
    const an = await page.$eval(sel, (li) => ({
      id: li.dataset.id, desc: li.querySelector('.desc').textContent,
      actions: Array.from(li.querySelectorAll('.actions li')).map((x) => x.textContent),
      related: li.querySelector('dl') ? li.querySelector('dl').textContent : '',
      elements: li.querySelectorAll('b, img, script').length }));
    if (an.desc !== ANOMALY_DESC) fail('the description reads ' + JSON.stringify(an.desc));
    else if (an.elements) fail('the description made elements');
    else ok('anomaly pool_high listed, description as text: ' + an.desc);
    if (!an.actions.includes('drain it')) fail('suggested actions missing: ' + JSON.stringify(an.actions));
    if (!an.related.includes('node.mempool_size')) fail('related metrics missing: ' + JSON.stringify(an.related));
    const mark = await page.$('#timeline .mark[data-id="' + an.id + '"]');
    if (!mark) fail('anomaly ' + an.id + ' has no mark in the timeline');
    else {
      const cls = await mark.getAttribute('class');
      if (!/\bsev4\b/.test(cls)) fail('timeline mark colour class ' + cls + ', expected sev4');
      else ok('timeline mark for ' + an.id + ' (' + cls + ')');
      await mark.evaluate((m) => m.click());
      if (!(await page.$(sel + '.hl'))) fail('clicking the mark does not highlight the anomaly');
    }

    // the range picker: a new query of the store, and other data drawn
    const before = Object.fromEntries((await charts(page)).map((c) => [c.chart, c.points]));
    const n0 = requests.length;
    await page.selectOption('#range', '3600');
    await page.waitForSelector('body[data-range="3600"][data-step="36"]', { timeout: 10000 });
    await page.waitForFunction(() => document.getElementById('tier').textContent !== '', null, { timeout: 10000 });
    const asked = requests.slice(n0).filter((u) => u.includes('/api/v1/query?') && u.includes('step=36'));
    // the redraw follows the answers (most charts change; a live update changes one or two):
    // on a loaded machine, give it a few seconds
    await page.waitForFunction((b) => Array.from(document.querySelectorAll('figure.chart'))
      .filter((f) => +f.dataset.points !== b[f.dataset.chart]).length >= 5, before,
    { timeout: 10000 }).catch(() => {});
    const after = Object.fromEntries((await charts(page)).map((c) => [c.chart, c.points]));
    const changed = Object.keys(after).filter((k) => after[k] !== before[k]);
    if (!asked.length) fail('picking 1 hour asked the store nothing');
    else if (!changed.length) fail('picking 1 hour changed no chart');
    else ok('1 hour: ' + asked.length + ' store queries (' + (await page.textContent('#tier')) + '), ' +
      changed.length + ' charts redrawn, cpu ' + before.cpu + ' -> ' + after.cpu + ' points');
    for (const r of ['604800', 'full', '300']) {
      await page.selectOption('#range', r);
      await page.waitForSelector('body[data-range="' + r + '"]', { timeout: 10000 });
    }
    await page.waitForTimeout(1500);
    ok('7 days, full retention and back to 5 minutes');

    // themes
    const theme0 = await page.evaluate(() => document.documentElement.dataset.theme || '');
    await page.click('#theme');
    const theme1 = await page.evaluate(() => document.documentElement.dataset.theme || '');
    const stored = await page.evaluate(() => localStorage.getItem('arthamon-theme'));
    if (!theme1 || theme1 === theme0 || stored !== theme1) fail('theme toggle: ' + theme0 + ' -> ' + theme1);
    else ok('theme toggled to ' + theme1 + ' and saved');
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'dashboard-' + theme1 + '.png'), fullPage: true });
    await page.click('#theme');
    await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });

    // nothing from the data became markup, nothing ran
    const dom = await page.evaluate(() => ({
      dialogs: window.__dialogs, imgs: Array.from(document.images).map((i) => i.getAttribute('src')),
      bold: document.querySelectorAll('main b').length }));
    if (dom.dialogs.length) fail('script from the data ran: ' + dom.dialogs.join(', '));
    else if (dom.imgs.some((s) => s !== '/static/favicon.svg') || dom.bold) fail('elements from the data: ' + JSON.stringify(dom));
    else ok('no script ran, no element made from the data');

    // a phone
    const phone = await watchedPage(browser, { width: 390, height: 844 });
    await phone.page.goto(url + '/', { waitUntil: 'load' });
    await waitReady(phone.page, phone.problems);
    await phone.page.waitForTimeout(800);
    const over = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (over > 1) fail('on a phone the page is ' + over + ' px wider than the screen');
    else ok('phone layout fits 390 px');
    await phone.page.screenshot({ path: path.join(artifacts, 'dashboard-phone.png'), fullPage: true });
    problems.push(...phone.problems);
    const dialogs = await phone.page.evaluate(() => window.__dialogs);
    if (dialogs.length) fail('script ran on the phone page: ' + dialogs.join(', '));

    if (problems.length) fail('browser problems:\n  ' + problems.join('\n  '));
    else ok('no console error, page error or failed request');
    ok('screenshots in ' + artifacts + ' (dashboard.png, dashboard-phone.png); ' + (Date.now() - t0) + ' ms');
  } finally {
    await browser.close();
  }
}

// total bytes the dashboard loads until its first full render, and when the first chart was drawn
async function bench() {
  const browser = await launch();
  try {
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await ctx.newPage();
      const sizes = [];
      page.on('response', async (r) => {
        try { sizes.push([r.url(), (await r.body()).length]); } catch (e) { /* redirects */ }
      });
      await page.goto(url + '/', { waitUntil: 'load' });
      await page.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
      await page.waitForTimeout(300);
      const first = await page.evaluate(() => window.__firstChartMs);
      const assets = sizes.filter(([u]) => !u.includes('/api/')).reduce((a, [, n]) => a + n, 0);
      const total = sizes.reduce((a, [, n]) => a + n, 0);
      runs.push({ first, assets, total, requests: sizes.length });
      await ctx.close();
    }
    const med = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[runs.length >> 1];
    console.log(JSON.stringify({ first_chart_ms: med('first'), asset_bytes: med('assets'),
      total_bytes: med('total'), requests: med('requests'), runs }));
  } finally {
    await browser.close();
  }
}

(mode === 'bench' ? bench() : check()).then(() => process.exit(failed ? 1 : 0), (e) => {
  console.log('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});

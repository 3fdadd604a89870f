/* arthamon dashboard: live charts of the daemon's API, drawn on canvas by our own code.
 * Every text that comes from the daemon is inserted with textContent, never as HTML. */
'use strict';
(function () {
  const POINTS_PER_RANGE = 100;  // points asked of the store per series for a range
  const MAX_SERIES_QUERIES = 400;
  const doc = document;

  // ---- small helpers
  function el(tag, cls, text) {
    const e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function field(obj, path) {
    for (const k of path.split('.')) {
      if (obj === null || typeof obj !== 'object') return null;
      obj = obj[k];
    }
    return typeof obj === 'number' && isFinite(obj) ? obj : null;
  }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
  function fmt(v) {
    if (v === null || v === undefined) return '–';
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + 'G';
    if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    return v === 0 ? '0' : v.toPrecision(2);
  }
  function pad2(n) { return n < 10 ? '0' + n : '' + n; }
  function timeLabel(tSec, span) {
    const d = new Date(tSec * 1000);
    const hm = pad2(d.getHours()) + ':' + pad2(d.getMinutes());
    if (span <= 3600) return hm + ':' + pad2(d.getSeconds());
    if (span <= 86400) return hm;
    return (d.getMonth() + 1) + '/' + d.getDate() + ' ' + hm;
  }
  function dateTime(ms) {
    if (!ms) return '–';
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' +
      pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }
  // a label value inside a series name: \ , = } escaped with a backslash (as the store writes them)
  function lv(s) { return String(s).replace(/[\\,=}]/g, (c) => '\\' + c); }
  async function getJSON(path) {
    const r = await fetch(path, { cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) {
      const e = new Error(path + ': HTTP ' + r.status);
      e.status = r.status;
      throw e;
    }
    const text = await r.text();
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(path + ': malformed JSON from the daemon');
    }
  }

  // ---- the charts, group by group. A line: {series (store name), label, get(snapshot)}.
  const L = (series, label, path) => ({ series, label, get: (s) => field(s, path || series) });
  function models(s) { return (s && Array.isArray(s.model_inference)) ? s.model_inference : []; }
  function findModel(s, name, type) {
    return models(s).find((m) => m && m.model_name === name && m.model_type === type) || null;
  }
  // the per-device list: the store names a device's series by index, name and UUID
  function gpus(s) { return (s && Array.isArray(s.gpus)) ? s.gpus.filter((g) => g && typeof g.index === 'number') : []; }
  function perGpu(key) {
    return (s) => gpus(s).map((g) => ({
      series: 'gpus.' + key + '{gpu=' + g.index + ',name=' + lv(g.name || '') + ',uuid=' + lv(g.uuid || '') + '}',
      label: 'GPU ' + g.index + (g.name ? ' ' + g.name : ''),
      get: (x) => { const d = gpus(x).find((y) => y.index === g.index); return d ? num(d[key]) : null; } }));
  }
  const GROUPS = [
    { id: 'cpu', title: 'CPU', charts: [
      { id: 'cpu', title: 'CPU usage', unit: '%', lines: () => [
        L('cpu.usage_percent', 'total'), L('cpu.process_usage', 'node process')] },
      { id: 'cpu-cores', title: 'CPU per core', unit: '%', lines: (s) => {
        const cores = (s && s.cpu && Array.isArray(s.cpu.core_usage)) ? s.cpu.core_usage : [];
        return cores.map((_, i) => ({ series: 'cpu.core_usage{core=' + i + '}', label: 'core ' + i,
          get: (x) => (x && x.cpu && Array.isArray(x.cpu.core_usage)) ? num(x.cpu.core_usage[i]) : null }));
      } },
      { id: 'cpu-freq', title: 'CPU frequency', unit: 'MHz', lines: () => [L('cpu.frequency_mhz', 'frequency')] },
      { id: 'cpu-temp', title: 'CPU temperature', unit: '°C', host: true, lines: () => [L('cpu.temperature', 'temperature')] },
    ] },
    { id: 'memory', title: 'Memory', charts: [
      { id: 'memory', title: 'Memory', unit: 'MB', lines: () => [
        L('memory.physical_used_mb', 'used'), L('memory.available_mb', 'available'),
        L('memory.swap_used_mb', 'swap used')] },
      { id: 'memory-process', title: 'Node process memory', unit: 'MB', lines: () => [
        L('memory.process_rss_mb', 'RSS'), L('memory.process_virtual_mb', 'virtual')] },
      { id: 'memory-gc', title: 'GC pauses', unit: 'ms', lines: () => [
        L('memory.gc_metrics.avg_pause_ms', 'avg pause'), L('memory.gc_metrics.max_pause_ms', 'max pause')] },
    ] },
    { id: 'disk', title: 'Disk', charts: [
      { id: 'disk-io', title: 'Disk throughput', unit: 'MB/s', lines: () => [
        L('disk.read_mbps', 'read'), L('disk.write_mbps', 'write')] },
      { id: 'disk-ops', title: 'Disk operations', unit: 'ops/s', lines: () => [
        L('disk.read_ops_per_sec', 'reads'), L('disk.write_ops_per_sec', 'writes')] },
      { id: 'disk-usage', title: 'Disk usage', unit: '%', lines: () => [L('disk.usage_percent', 'used')] },
    ] },
    { id: 'network', title: 'Network', charts: [
      { id: 'net-io', title: 'Network throughput', unit: 'KB/s', lines: () => [
        L('network.ingress_kbps', 'in'), L('network.egress_kbps', 'out')] },
      { id: 'net-peers', title: 'P2P peers', unit: 'connections', host: true, lines: () => [
        L('network.p2p_connections', 'peers')] },
      { id: 'net-latency', title: 'P2P latency', unit: 'ms', host: true, lines: () => [
        L('network.latency_ms', 'RTT')] },
      { id: 'net-loss', title: 'TCP loss', unit: '%', host: true, lines: () => [
        L('network.packet_loss_percent', 'retransmitted')] },
      { id: 'net-sockets', title: 'Open sockets', unit: 'sockets', lines: () => [L('network.open_sockets', 'sockets')] },
    ] },
    { id: 'gpu', title: 'GPU', charts: [
      { id: 'gpu', title: 'GPU utilisation (all GPUs)', unit: '%', host: true, lines: () => [
        L('gpu.usage_percent', 'usage'), L('gpu.core_util', 'cores'), L('gpu.tensor_core_util', 'tensor cores'),
        L('gpu.quantum_sim_usage', 'quantum sim')] },
      { id: 'gpu-mem', title: 'GPU memory (all GPUs)', unit: 'MB', host: true, lines: () => [
        L('gpu.memory_used_mb', 'used'), L('gpu.memory_total_mb', 'total')] },
      { id: 'gpus-usage', title: 'Utilisation per GPU', unit: '%', host: true, lines: perGpu('usage_percent') },
      { id: 'gpus-memory', title: 'Memory used per GPU', unit: 'MB', host: true, lines: perGpu('memory_used_mb') },
      { id: 'gpus-temp', title: 'Temperature per GPU', unit: '°C', host: true, lines: perGpu('temperature') },
      { id: 'gpus-power', title: 'Power per GPU', unit: 'W', host: true, lines: perGpu('power_watts') },
      { id: 'gpus-clock', title: 'SM clock per GPU', unit: 'MHz', host: true, lines: perGpu('clock_sm_mhz') },
    ] },
    { id: 'node', title: 'Node', charts: [
      { id: 'node-tps', title: 'Transactions', unit: 'tx/s', lines: () => [L('node.transactions_per_sec', 'TPS')] },
      { id: 'node-validation', title: 'Validation time', unit: 'ms', lines: () => [L('node.avg_tx_validation_ms', 'avg')] },
      { id: 'node-blocks', title: 'Blocks', unit: 'blocks/min', lines: () => [L('node.blocks_per_min', 'blocks/min')] },
      { id: 'node-blocksize', title: 'Block size', unit: 'KiB', lines: () => [L('node.avg_block_size_kb', 'avg size')] },
      { id: 'node-mempool', title: 'Mempool', unit: 'transactions', lines: () => [L('node.mempool_size', 'waiting')] },
    ] },
    { id: 'consensus', title: 'Consensus', charts: [
      { id: 'cons-finality', title: 'Time to finality', unit: 's', lines: () => [
        L('node.consensus_metrics.time_to_finality_sec', 'finality')] },
      { id: 'cons-messages', title: 'Consensus messages', unit: 'msg/s', lines: () => [
        L('node.consensus_metrics.messages_per_sec', 'messages')] },
      { id: 'cons-participation', title: 'Participation and PQ overhead', unit: '%', lines: () => [
        L('node.consensus_metrics.participation_percent', 'participation'),
        L('node.consensus_metrics.quantum_resistant_overhead', 'PQ overhead')] },
    ] },
    { id: 'contracts', title: 'Contracts', charts: [
      { id: 'contract-rate', title: 'Contract executions', unit: '1/s', lines: () => [
        L('node.contract_metrics.contracts_per_sec', 'executions')] },
      { id: 'contract-time', title: 'Execution and WASM load', unit: 'ms', lines: () => [
        L('node.contract_metrics.avg_execution_ms', 'execution'), L('node.contract_metrics.wasm_load_ms', 'WASM load')] },
      { id: 'contract-gas', title: 'Gas per execution', unit: 'gas', lines: () => [
        L('node.contract_metrics.avg_gas_used', 'avg gas')] },
      { id: 'contract-calls', title: 'Calls per function (since start)', unit: 'calls', lines: (s) => {
        const fc = s && s.node && s.node.contract_metrics && s.node.contract_metrics.function_calls;
        const names = fc && typeof fc === 'object' ? Object.keys(fc).sort() : [];
        return names.map((f) => ({ series: 'node.contract_metrics.function_calls{function=' + lv(f) + '}', label: f,
          get: (x) => {
            const m = x && x.node && x.node.contract_metrics && x.node.contract_metrics.function_calls;
            return m && typeof m === 'object' ? num(m[f]) : null;
          } }));
      } },
    ] },
    { id: 'inference', title: 'Model inference', charts: [
      { id: 'inf-throughput', title: 'Inference throughput', unit: '1/s', lines: (s) => models(s).map((m) => ({
        series: 'model_inference.throughput_per_sec{model=' + lv(m.model_name) + ',type=' + lv(m.model_type) + '}',
        label: m.model_name + ' (' + m.model_type + ')',
        get: (x) => { const f = findModel(x, m.model_name, m.model_type); return f ? num(f.throughput_per_sec) : null; } })) },
    ], perModel: true },
    { id: 'quantum', title: 'Quantum', quantum: true, charts: [
      { id: 'quantum-overhead', title: 'PQ crypto overhead', unit: '%', host: true, lines: () => [
        L('quantum.pq_crypto_overhead', 'overhead')] },
      { id: 'quantum-merkle', title: 'Merkle operations', unit: 'ops/s', host: true, lines: () => [
        L('quantum.merkle_ops_per_sec', 'SHA3-256 proofs')] },
      { id: 'quantum-qrng', title: 'QRNG throughput', unit: 'bits/s', host: true, lines: () => [
        L('quantum.qrng_throughput', 'entropy source')] },
      { id: 'quantum-security', title: 'Security level', unit: 'bits', host: true, lines: () => [
        L('quantum.security_level_bits', 'against a quantum adversary')] },
      { id: 'quantum-sim', title: 'Quantum simulation', unit: '', host: true, lines: () => [
        L('quantum.simulation_metrics.qubits', 'qubits'), L('quantum.simulation_metrics.circuit_depth', 'circuit depth')] },
    ] },
  ];
  // one chart per model: average, p95 and p99 latency
  function modelCharts(s) {
    return models(s).filter((m) => m && typeof m.model_name === 'string').map((m) => {
      const lab = 'model=' + lv(m.model_name) + ',type=' + lv(m.model_type);
      const pick = (k) => (x) => { const f = findModel(x, m.model_name, m.model_type); return f ? num(f[k]) : null; };
      return { id: 'inf:' + m.model_name + '\u0000' + m.model_type, title: m.model_name + ' (' + m.model_type + ') latency',
        unit: 'ms', lines: () => [
          { series: 'model_inference.avg_inference_ms{' + lab + '}', label: 'avg', get: pick('avg_inference_ms') },
          { series: 'model_inference.p95_inference_ms{' + lab + '}', label: 'p95', get: pick('p95_inference_ms') },
          { series: 'model_inference.p99_inference_ms{' + lab + '}', label: 'p99', get: pick('p99_inference_ms') }] };
    });
  }

  // ---- colours from the theme's CSS variables
  let colours = null;
  function themeColours() {
    const cs = getComputedStyle(doc.documentElement);
    const v = (n) => cs.getPropertyValue(n).trim();
    colours = { grid: v('--grid'), axis: v('--axis'), fg: v('--fg'), lines: [] };
    for (let i = 1; i <= 8; i++) colours.lines.push(v('--c' + i));
  }

  // ---- a line chart on a canvas
  let chartSeq = 0;
  class Chart {
    constructor(parent, spec) {
      this.spec = spec;
      this.lines = [];
      this.fig = el('figure', 'chart empty');
      this.fig.dataset.chart = spec.id.startsWith('inf:') ? 'inference-model' : spec.id;
      this.fig.dataset.points = '0';
      if (spec.host) this.fig.dataset.host = '1';
      const h = el('h3', null, spec.title + (spec.unit ? ' (' + spec.unit + ')' : ''));
      this.cur = el('span', 'cur');
      h.appendChild(this.cur);
      this.plot = el('div', 'plot');
      this.canvas = el('canvas');
      this.canvas.setAttribute('role', 'img');
      this.canvas.setAttribute('aria-label', spec.title);
      this.note = el('div', 'note', spec.host ? 'not measured on this host' : 'no data yet');
      this.tip = el('div', 'tip');
      this.plot.append(this.canvas, this.note, this.tip);
      this.legend = el('ul', 'legend');
      this.fig.append(h, this.plot, this.legend);
      parent.appendChild(this.fig);
      this.id = ++chartSeq;
      this.canvas.addEventListener('mousemove', (e) => this.hover(e));
      this.canvas.addEventListener('mouseleave', () => { this.tip.style.display = 'none'; });
    }
    // lines: [{label, pts: [[tSec, v|null], ...]}]
    set(lines, t0, t1) {
      this.data = lines;
      this.t0 = t0;
      this.t1 = t1;
      const key = lines.map((l) => l.label).join('\u0000');
      if (key !== this.legendKey) {
        this.legendKey = key;
        this.legend.textContent = '';
        lines.forEach((l, i) => {
          const li = el('li');
          li.append(el('span', 'sw c' + ((i % 8) + 1)), el('span', null, l.label));
          this.legend.appendChild(li);
        });
      }
      this.draw();
    }
    draw() {
      const lines = this.data || [];
      const { t0, t1 } = this;
      let n = 0, lo = Infinity, hi = -Infinity;
      for (const l of lines) {
        for (const p of l.pts) {
          if (p[1] === null || p[0] < t0 || p[0] > t1) continue;
          n++;
          if (p[1] < lo) lo = p[1];
          if (p[1] > hi) hi = p[1];
        }
      }
      this.fig.dataset.points = String(n);
      this.fig.classList.toggle('empty', n === 0);
      const last = lines.length === 1 ? lines[0].pts.filter((p) => p[1] !== null).pop() : null;
      this.cur.textContent = last ? fmt(last[1]) : '';
      const c = this.canvas, dpr = window.devicePixelRatio || 1;
      const w = c.clientWidth, h = c.clientHeight;
      if (!w || !h) return n;
      if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
        c.width = Math.round(w * dpr);
        c.height = Math.round(h * dpr);
      }
      const g = c.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, w, h);
      if (n === 0) return 0;
      if (lo > 0 && lo < hi * 0.5) lo = 0;
      if (hi === lo) { hi = lo === 0 ? 1 : lo + Math.abs(lo) * 0.1; lo = lo === hi ? 0 : lo - Math.abs(lo) * 0.1; }
      const ticks = niceTicks(lo, hi, 4);
      lo = Math.min(lo, ticks[0]);
      hi = Math.max(hi, ticks[ticks.length - 1]);
      const L = 44, R = 6, T = 6, B = 18;
      const pw = w - L - R, ph = h - T - B;
      const x = (t) => L + (t - t0) / (t1 - t0 || 1) * pw;
      const y = (v) => T + ph - (v - lo) / (hi - lo) * ph;
      this.geo = { x, L, pw, t0, t1 };
      g.font = '10px system-ui, sans-serif';
      g.lineWidth = 1;
      g.strokeStyle = colours.grid;
      g.fillStyle = colours.axis;
      g.textAlign = 'right';
      g.textBaseline = 'middle';
      for (const tv of ticks) {
        const yy = Math.round(y(tv)) + 0.5;
        g.beginPath(); g.moveTo(L, yy); g.lineTo(w - R, yy); g.stroke();
        g.fillText(fmt(tv), L - 4, yy);
      }
      g.textBaseline = 'top';
      const span = t1 - t0, nx = Math.max(2, Math.min(5, Math.floor(pw / 90)));
      for (let i = 0; i <= nx; i++) {
        const t = t0 + span * i / nx;
        g.textAlign = i === 0 ? 'left' : i === nx ? 'right' : 'center';
        g.fillText(timeLabel(t, span), x(t), T + ph + 4);
      }
      g.lineWidth = 1.5;
      g.lineJoin = 'round';
      lines.forEach((l, i) => {
        g.strokeStyle = g.fillStyle = colours.lines[i % 8];
        g.beginPath();
        let open = false, single = null;
        for (const p of l.pts) {
          if (p[1] === null || p[0] < t0 || p[0] > t1) { open = false; continue; }
          const px = x(p[0]), py = y(p[1]);
          if (open) { g.lineTo(px, py); single = null; } else { g.moveTo(px, py); single = [px, py]; }
          open = true;
        }
        g.stroke();
        if (single) g.fillRect(single[0] - 1.5, single[1] - 1.5, 3, 3);
      });
      if (n > 0) dash.chartDrawn();
      return n;
    }
    hover(e) {
      if (!this.geo || !this.data) return;
      const r = this.canvas.getBoundingClientRect();
      const mx = e.clientX - r.left;
      const { L, pw, t0, t1 } = this.geo;
      if (mx < L || mx > L + pw) { this.tip.style.display = 'none'; return; }
      const t = t0 + (mx - L) / pw * (t1 - t0);
      const rows = [];
      let when = null;
      for (const l of this.data) {
        let best = null;
        for (const p of l.pts) if (p[1] !== null && (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t))) best = p;
        if (best) { rows.push(l.label + ': ' + fmt(best[1])); if (when === null) when = best[0]; }
      }
      if (!rows.length) { this.tip.style.display = 'none'; return; }
      this.tip.textContent = timeLabel(when, 3600) + '\n' + rows.slice(0, 12).join('\n');
      this.tip.style.display = 'block';
      this.tip.style.left = (mx > r.width / 2 ? Math.max(0, mx - this.tip.offsetWidth - 8) : mx + 8) + 'px';
    }
  }
  function niceTicks(lo, hi, count) {
    const span = hi - lo;
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
    const out = [];
    for (let v = Math.floor(lo / step) * step; v <= hi + step * 0.5 && out.length < 12; v += step) out.push(+v.toPrecision(12));
    if (out[out.length - 1] < hi) out.push(+(out[out.length - 1] + step).toPrecision(12));
    return out;
  }

  // ---- state
  const dash = {
    cfg: null,
    intervalMs: 5000,
    range: '300',        // seconds, or 'full'
    rangeSeq: 0,
    latest: null,        // newest snapshot
    data: new Map(),     // series -> [[tSec, v|null], ...]
    known: new Set(),    // series seen with a value (so they exist in the store)
    groups: new Map(),   // group id -> {section, wrap, charts: Map(chart id -> Chart)}
    anomalies: [],
    tier: '',
    ready: false,
    firstChart: null,
    chartDrawn() {
      if (this.firstChart === null) {
        this.firstChart = performance.now();
        window.__firstChartMs = this.firstChart;
      }
    },
  };
  window.__dash = dash;

  function rangeSeconds() {
    if (dash.range !== 'full') return +dash.range;
    const c = dash.cfg || {};
    const days = Math.max(num(field(c, 'monitoring.retention_period_days')) || 30,
      num(field(c, 'storage.minute_days')) || 0, num(field(c, 'storage.hour_days')) || 0);
    return days * 86400;
  }
  function windowNow() {
    const t1 = (dash.latest && dash.latest.timestamp_ms ? dash.latest.timestamp_ms : Date.now()) / 1000;
    return { t0: t1 - rangeSeconds(), t1 };
  }

  // every chart spec for the newest snapshot, by group
  function groupSpecs(s) {
    const q = !!field(dash.cfg, 'visualization.quantum_visualization') ||
      !!(dash.cfg && dash.cfg.visualization && dash.cfg.visualization.quantum_visualization === true);
    return GROUPS.filter((gr) => !gr.quantum || q).map((gr) => ({
      gr, specs: gr.perModel ? gr.charts.concat(modelCharts(s)) : gr.charts }));
  }

  function ensureCharts() {
    const root = doc.getElementById('groups');
    for (const { gr, specs } of groupSpecs(dash.latest)) {
      let g = dash.groups.get(gr.id);
      if (!g) {
        const section = el('section', 'group');
        section.dataset.group = gr.id;
        section.appendChild(el('h2', null, gr.title));
        const wrap = el('div', 'charts');
        section.appendChild(wrap);
        root.appendChild(section);
        g = { section, wrap, charts: new Map() };
        dash.groups.set(gr.id, g);
      }
      for (const spec of specs) {
        let ch = g.charts.get(spec.id);
        if (!ch) { ch = new Chart(g.wrap, spec); g.charts.set(spec.id, ch); }
        ch.spec = spec;
      }
    }
  }
  function allCharts() {
    const out = [];
    for (const g of dash.groups.values()) for (const c of g.charts.values()) out.push(c);
    return out;
  }

  // ---- data: a snapshot's values appended to every line
  function ingest(s) {
    if (!s || typeof s.timestamp_ms !== 'number') return;
    const t = s.timestamp_ms / 1000;
    for (const c of allCharts()) {
      for (const line of c.spec.lines(s)) {
        const v = line.get(s);
        if (v !== null) dash.known.add(line.series);
        let pts = dash.data.get(line.series);
        if (!pts) { pts = []; dash.data.set(line.series, pts); }
        if (!pts.length || pts[pts.length - 1][0] < t) pts.push([t, v]);
      }
    }
  }
  function trim() {
    const { t0 } = windowNow();
    for (const [k, pts] of dash.data) {
      let i = 0;
      while (i < pts.length && pts[i][0] < t0) i++;
      if (i) pts.splice(0, i);
      if (!pts.length && !dash.known.has(k)) dash.data.delete(k);
    }
  }

  function render() {
    ensureCharts();
    const { t0, t1 } = windowNow();
    for (const c of allCharts()) {
      const lines = c.spec.lines(dash.latest).map((l) => ({ label: l.label, pts: dash.data.get(l.series) || [] }));
      c.set(lines, t0, t1);
    }
    renderTimeline();
    renderPredictions();
  }

  // a range from the store: every series some chart shows, at ~POINTS_PER_RANGE points
  async function loadRange() {
    const seq = ++dash.rangeSeq;
    const span = rangeSeconds();
    const { t0, t1 } = windowNow();
    const step = Math.max(1, Math.round(span / POINTS_PER_RANGE));
    const from = Math.floor(t0), to = Math.ceil(t1);
    doc.body.dataset.range = String(dash.range);
    const series = [];
    ensureCharts();
    for (const c of allCharts()) for (const l of c.spec.lines(dash.latest)) {
      if (dash.known.has(l.series) && !series.includes(l.series)) series.push(l.series);
    }
    const tiers = new Set();
    const got = new Map();
    const qs = series.slice(0, MAX_SERIES_QUERIES).map(async (name) => {
      const url = '/api/v1/query?series=' + encodeURIComponent(name) + '&from=' + from + '&to=' + to +
        '&step=' + step + '&agg=avg';
      try {
        const r = await getJSON(url);
        if (r.tier) tiers.add(r.tier);
        got.set(name, (r.points || []).map((p) => [p[0], num(p[1])]));
      } catch (e) {
        got.set(name, []);
      }
    });
    await Promise.all(qs);
    if (seq !== dash.rangeSeq) return;  // another range was picked meanwhile
    // keep what the live polling appended after the range's end
    for (const [name, pts] of got) {
      const old = dash.data.get(name) || [];
      const lastT = pts.length ? pts[pts.length - 1][0] : -Infinity;
      dash.data.set(name, pts.concat(old.filter((p) => p[0] > lastT + step / 2)));
    }
    for (const [name] of dash.data) if (!got.has(name)) dash.data.set(name, (dash.data.get(name) || []).filter((p) => p[0] >= t0));
    dash.tier = Array.from(tiers).join(', ');
    doc.getElementById('tier').textContent = dash.tier ? 'tier: ' + dash.tier + ', step ' + step + ' s' : '';
    doc.body.dataset.step = String(step);
    render();
  }

  // ---- anomalies: a strip over the range, and a list with the details
  const SEV = ['', 'info', 'low', 'medium', 'high', 'critical'];
  const marks = new Map();  // anomaly id -> its mark in the strip (kept, so a click never hits a stale one)
  function renderTimeline() {
    const strip = doc.getElementById('timeline');
    const { t0, t1 } = windowNow();
    doc.getElementById('tl-from').textContent = timeLabel(t0, t1 - t0);
    doc.getElementById('tl-to').textContent = timeLabel(t1, t1 - t0);
    const shown = dash.anomalies.map((a) => ({ a, start: (a.detected_at_ms || 0) / 1000,
      end: a.resolved_at_ms ? a.resolved_at_ms / 1000 : t1 }))
      .filter((x) => x.end >= t0 && x.start <= t1).sort((x, y) => x.start - y.start);
    // overlapping anomalies go to separate lanes (up to 3)
    const laneEnd = [];
    for (const x of shown) {
      let k = laneEnd.findIndex((e) => e <= x.start);
      if (k < 0) k = laneEnd.length < 3 ? laneEnd.length : laneEnd.indexOf(Math.min(...laneEnd));
      laneEnd[k] = x.end;
      x.lane = k;
    }
    const lanes = Math.max(1, laneEnd.length);
    const keep = new Set();
    for (const { a, start, end, lane } of shown) {
      const id = String(a.id);
      keep.add(id);
      const sev = Math.min(5, Math.max(1, a.severity | 0));
      let m = marks.get(id);
      if (!m) {
        m = el('button');
        m.type = 'button';
        m.dataset.id = id;
        m.addEventListener('click', () => highlight(id));
        marks.set(id, m);
        strip.appendChild(m);
      }
      m.className = 'mark sev' + sev;
      m.title = String(a.anomaly_type) + ' (severity ' + sev + ', ' + String(a.status) + '): ' + String(a.description || '');
      const l = Math.max(0, (start - t0) / (t1 - t0));
      const r = Math.min(1, (end - t0) / (t1 - t0));
      m.style.left = (l * 100).toFixed(3) + '%';
      m.style.width = Math.max(0, (r - l) * 100).toFixed(3) + '%';
      m.style.top = (2 + lane * 22 / lanes).toFixed(1) + 'px';
      m.style.height = Math.max(4, 22 / lanes - 2).toFixed(1) + 'px';
    }
    for (const [id, m] of marks) if (!keep.has(id)) { m.remove(); marks.delete(id); }
  }
  function highlight(id) {
    for (const li of doc.querySelectorAll('#anomaly-list > li')) {
      const on = li.dataset.id === String(id);
      li.classList.toggle('hl', on);
      if (on) li.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    }
  }
  let anomalyKey = '';
  function renderAnomalyList() {
    const key = dash.anomalies.map((a) => a.id + ':' + a.status + ':' + a.updated_at_ms).join('|');
    if (key === anomalyKey) return;
    anomalyKey = key;
    const list = doc.getElementById('anomaly-list');
    list.textContent = '';
    if (!dash.anomalies.length) { list.appendChild(el('li', 'muted', 'No anomaly detected.')); return; }
    for (const a of dash.anomalies) {
      const sev = Math.min(5, Math.max(1, a.severity | 0));
      const li = el('li', 's' + sev);
      li.dataset.id = String(a.id);
      li.dataset.type = String(a.anomaly_type);
      const head = el('div', 'head');
      head.append(el('span', 'badge sev' + sev, sev + ' ' + SEV[sev]), el('span', 'type', a.anomaly_type),
        el('span', 'muted', String(a.component) + ' · ' + String(a.detector || '') + ' · ' + String(a.status)),
        el('span', 'muted', dateTime(a.detected_at_ms) +
          (a.resolved_at_ms ? ' → ' + dateTime(a.resolved_at_ms) : '')));
      li.appendChild(head);
      li.appendChild(el('p', 'desc', a.description || ''));
      const rm = a.related_metrics && typeof a.related_metrics === 'object' ? Object.entries(a.related_metrics) : [];
      if (rm.length) {
        const dl = el('dl');
        for (const [k, v] of rm) dl.append(el('dt', null, k), el('dd', null, typeof v === 'number' ? fmt(v) : String(v)));
        li.appendChild(dl);
      }
      const acts = Array.isArray(a.suggested_actions) ? a.suggested_actions : [];
      if (acts.length) {
        const ul = el('ul', 'actions');
        for (const s of acts) ul.appendChild(el('li', null, s));
        li.appendChild(ul);
      }
      list.appendChild(li);
    }
  }
  async function loadAnomalies() {
    const r = await getJSON('/api/v1/anomalies?limit=100&min_severity=1');
    dash.anomalies = Array.isArray(r.anomalies) ? r.anomalies : [];
    if (Array.isArray(r.detectors)) dash.detectors = r.detectors;
    renderAnomalyList();
    renderTimeline();
  }

  // ---- predictions (from the newest snapshot) and detector warm-up
  function renderPredictions() {
    const tb = doc.querySelector('#predictions tbody');
    const p = dash.latest && dash.latest.neural_predictions && typeof dash.latest.neural_predictions === 'object'
      ? dash.latest.neural_predictions : {};
    const names = Object.keys(p).filter((k) => !k.endsWith('_confidence')).sort();
    tb.textContent = '';
    if (!names.length) {
      const tr = el('tr');
      tr.appendChild(el('td', 'muted', 'No prediction above the confidence threshold yet.'));
      tb.appendChild(tr);
    }
    for (const k of names) {
      const tr = el('tr');
      const conf = num(p[k + '_confidence']);
      tr.append(el('td', null, k.replace(/_/g, ' ')),
        el('td', null, fmt(num(p[k])) + (conf !== null ? ' (confidence ' + Math.round(conf * 100) + ' %)' : '')));
      tb.appendChild(tr);
    }
    const det = (dash.latest && Array.isArray(dash.latest.detectors)) ? dash.latest.detectors : (dash.detectors || []);
    doc.getElementById('detectors').textContent = det.length ? 'Detectors: ' + det.map((d) =>
      String(d.name) + (d.warming_up ? ' (warming up, ' + d.ticks_left + ' ticks left)' : ' ready')).join(', ') : '';
  }

  // ---- alert delivery
  async function loadAlerts() {
    const r = await getJSON('/api/v1/alerts?limit=10');
    doc.getElementById('alerts-state').textContent = (r.enabled ? 'Alerting on' : 'Alerting off') +
      (r.min_severity ? ', from severity ' + r.min_severity : '');
    const tb = doc.querySelector('#channels tbody');
    tb.textContent = '';
    for (const c of Array.isArray(r.channels) ? r.channels : []) {
      const tr = el('tr');
      tr.append(el('td', null, c.name), el('td', null, c.sent), el('td', null, c.failed), el('td', null, c.pending),
        el('td', null, c.errors + ' / ' + c.attempts), el('td', null, c.last_delivery_at || '–'),
        el('td', null, c.last_error || (c.retry_at ? 'retry at ' + c.retry_at : '')));
      tb.appendChild(tr);
    }
    const ol = doc.getElementById('notifications');
    ol.textContent = '';
    for (const n of Array.isArray(r.notifications) ? r.notifications : []) {
      ol.appendChild(el('li', String(n.state), String(n.created_at) + ' ' + n.channel + ' ' + n.event + ' ' +
        n.anomaly_type + ' (' + n.component + ', severity ' + n.severity + '): ' + n.state +
        (n.last_error ? ' – ' + n.last_error : '')));
    }
  }

  // ---- the node's custom series (StatsD names and C API series that map to no snapshot field)
  async function loadCustom() {
    const r = await getJSON('/api/v1/custom?limit=200');
    const list = Array.isArray(r.series) ? r.series : [];
    const tb = doc.querySelector('#custom tbody');
    tb.textContent = '';
    for (const c of list) {
      const labels = c.labels && typeof c.labels === 'object' ? c.labels : {};
      const lt = Object.keys(labels).map((k) => labels[k] === '' ? k : k + '=' + labels[k]).join(', ');
      const tr = el('tr');
      tr.dataset.name = String(c.name);
      const v = fmt(num(c.value)) + (c.unit ? ' ' + c.unit : '') +
        (typeof c.count === 'number' ? ' (mean of ' + c.count + ')' : '');
      tr.append(el('td', 'name', c.name), el('td', 'labels', lt), el('td', null, c.kind), el('td', null, v));
      tb.appendChild(tr);
    }
    doc.getElementById('custom-state').textContent = !list.length ? 'None sent by the node.'
      : list.length + (r.truncated ? ' of ' + r.total : '') + ' series, live (the history keeps the fields above).';
  }

  // ---- status line
  function status(text, bad) {
    const s = doc.getElementById('status');
    s.textContent = text;
    s.classList.toggle('bad', !!bad);
  }

  // ---- polling at the sampling interval
  let lastSide = 0;
  async function poll() {
    try {
      const s = await getJSON('/api/v1/snapshot');
      if (!dash.latest || s.timestamp_ms > dash.latest.timestamp_ms) {
        dash.latest = s;
        ensureCharts();
        ingest(s);
        trim();
      }
      status('updated ' + dateTime(s.timestamp_ms) + ' · every ' + dash.intervalMs / 1000 + ' s', false);
    } catch (e) {
      status(e.status === 503 ? 'waiting for the first sample…' : 'cannot reach the daemon (' + e.message + ')', e.status !== 503);
    }
    const now = Date.now();
    if (now - lastSide >= Math.max(1000, dash.intervalMs)) {
      lastSide = now;
      await Promise.all([loadAnomalies().catch(() => {}), loadAlerts().catch(() => {}),
        loadCustom().catch(() => {})]);
    }
    render();
    if (!dash.ready && dash.latest) {
      dash.ready = true;
      doc.body.dataset.ready = '1';
    }
    setTimeout(poll, dash.intervalMs);
  }

  // ---- theme
  function applyTheme(t) {
    if (t) doc.documentElement.dataset.theme = t; else delete doc.documentElement.dataset.theme;
    themeColours();
    const dark = t ? t === 'dark' : window.matchMedia('(prefers-color-scheme: dark)').matches;
    doc.getElementById('theme').textContent = dark ? 'Light' : 'Dark';
    for (const c of allCharts()) c.draw();
  }
  function storedTheme() { try { return localStorage.getItem('arthamon-theme'); } catch (e) { return null; } }

  async function start() {
    applyTheme(storedTheme());
    doc.getElementById('theme').addEventListener('click', () => {
      const dark = doc.documentElement.dataset.theme ? doc.documentElement.dataset.theme === 'dark'
        : window.matchMedia('(prefers-color-scheme: dark)').matches;
      const t = dark ? 'light' : 'dark';
      try { localStorage.setItem('arthamon-theme', t); } catch (e) { /* private mode */ }
      applyTheme(t);
    });
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme(storedTheme()));
    const sel = doc.getElementById('range');
    dash.range = sel.value;
    sel.addEventListener('change', () => { dash.range = sel.value; trim(); render(); loadRange(); });
    if (window.ResizeObserver) {
      let pending = false;
      new ResizeObserver(() => {
        if (pending) return;
        pending = true;
        requestAnimationFrame(() => { pending = false; for (const c of allCharts()) c.draw(); });
      }).observe(doc.getElementById('groups'));
    }
    // config and the newest snapshots at once: the snapshots say which series exist (so the
    // store has them) and are drawn at once, before the range's queries come back
    const [cfg, h] = await Promise.all([getJSON('/api/v1/config').catch(() => null),
      getJSON('/api/v1/history?limit=10').catch(() => null)]);
    dash.cfg = cfg;
    const iv = num(field(cfg, 'monitoring.sampling_interval_ms'));
    if (iv) dash.intervalMs = Math.max(250, iv);
    const snaps = h && Array.isArray(h.snapshots) ? h.snapshots : [];
    if (snaps.length) {
      dash.latest = snaps[snaps.length - 1];
      ensureCharts();
      for (const s of snaps) ingest(s);
      render();
    }
    doc.getElementById('node').textContent = dash.latest ? String(dash.latest.node_id) : '';
    await Promise.all([loadRange(), loadAnomalies().catch(() => {}), loadAlerts().catch(() => {}),
      loadCustom().catch(() => {})]);
    lastSide = Date.now();
    poll();
  }
  if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', start); else start();
})();

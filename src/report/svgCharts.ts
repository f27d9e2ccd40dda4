/**
 * Small inline SVG charts for the run report: bars per day (stacked or grouped) and points over
 * time. Pure functions from numbers to SVG text; every text is escaped.
 */

export interface Series {
  name: string;
  color: string;
  values: number[];
}

export interface TimeSeries {
  name: string;
  color: string;
  points: Array<{ at: number; value: number }>;
}

const WIDTH = 640;
const HEIGHT = 240;
const MARGIN = { top: 28, right: 12, bottom: 34, left: 52 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** The y axis: from `min` to `max`, with ticks at round steps. */
export interface Scale {
  min: number;
  max: number;
  ticks: number[];
}

/**
 * A round range for the y axis, about four steps: from 0 (or from below `options.min`, for values
 * whose change matters more than their size, e.g. users) up to `max`. Counts (`integer`) get whole
 * steps only.
 */
export function niceScale(max: number, options: { integer?: boolean; min?: number } = {}): Scale {
  const low = options.min ?? 0;
  if (!(max > low)) {
    // One value (or none): a band around it, or 0 to 1.
    if (options.min !== undefined) return { min: Math.floor(low) - 1, max: Math.floor(low) + 1, ticks: [Math.floor(low) - 1, Math.floor(low), Math.floor(low) + 1] };
    return { min: 0, max: 1, ticks: options.integer ? [0, 1] : [0, 0.25, 0.5, 0.75, 1] };
  }
  const raw = (max - low) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 3, 4, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  if (options.integer) step = Math.max(1, Math.ceil(step));
  const start = Math.floor(low / step) * step;
  const count = Math.max(1, Math.ceil((max - start) / step - 1e-9));
  return { min: start, max: start + count * step, ticks: Array.from({ length: count + 1 }, (_, i) => start + i * step) };
}

const fmt = (n: number) => (Math.abs(n) >= 10_000 && n % 1000 === 0 ? `${n / 1000}k` : Number.isInteger(n) ? n.toLocaleString("en-US") : String(Number(n.toFixed(2))));
const r = (n: number) => Math.round(n * 10) / 10;

function frame(id: string, title: string, unit: string, scale: Scale, legend: Array<{ name: string; color: string }>, body: string, xLabels: string): string {
  const y = (v: number) => MARGIN.top + PLOT_H - ((v - scale.min) / (scale.max - scale.min)) * PLOT_H;
  const grid = scale.ticks
    .map((t) => `<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${r(y(t))}" y2="${r(y(t))}"/><text class="tick" x="${MARGIN.left - 6}" y="${r(y(t)) + 4}" text-anchor="end">${fmt(t)}</text>`)
    .join("");
  let lx = WIDTH - MARGIN.right;
  const keys = [...legend]
    .reverse()
    .map((s) => {
      const w = s.name.length * 7 + 18;
      lx -= w;
      return `<rect class="key" x="${lx}" y="8" width="10" height="10" fill="${s.color}"/><text class="legend" x="${lx + 14}" y="17">${escapeXml(s.name)}</text>`;
    })
    .join("");
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${escapeXml(id)}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeXml(title)}">` +
    `<title>${escapeXml(title)}</title>` +
    `<text class="unit" x="4" y="17">${escapeXml(unit)}</text>${keys}${grid}${body}` +
    `<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H}"/>${xLabels}</svg>`
  );
}

/** Bars per category (a day), stacked or side by side. */
export function barChart(options: { id: string; title: string; unit: string; categories: string[]; series: Series[]; stacked: boolean; integer?: boolean }): string {
  const { categories, series } = options;
  const totals = categories.map((_, i) => (options.stacked ? series.reduce((s, x) => s + (x.values[i] ?? 0), 0) : Math.max(0, ...series.map((x) => x.values[i] ?? 0))));
  const scale = niceScale(Math.max(0, ...totals), { integer: options.integer === true });
  const slot = PLOT_W / Math.max(1, categories.length);
  const barW = Math.max(1, slot * 0.7);
  const y = (v: number) => MARGIN.top + PLOT_H - (v / scale.max) * PLOT_H;
  let bars = "";
  categories.forEach((category, i) => {
    const x0 = MARGIN.left + i * slot + (slot - barW) / 2;
    let base = 0;
    series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      if (v <= 0) return;
      const w = options.stacked ? barW : barW / series.length;
      const x = options.stacked ? x0 : x0 + k * w;
      const top = y(base + v);
      const height = y(base) - top;
      bars += `<rect class="bar" x="${r(x)}" y="${r(top)}" width="${r(w)}" height="${r(Math.max(height, 0.5))}" fill="${s.color}"><title>${escapeXml(`${category} ${s.name}: ${fmt(v)}`)}</title></rect>`;
      if (options.stacked) base += v;
    });
  });
  const every = Math.max(1, Math.ceil(categories.length / 10));
  const labels = categories
    .map((c, i) => (i % every === 0 ? `<text class="tick" x="${r(MARGIN.left + i * slot + slot / 2)}" y="${HEIGHT - 14}" text-anchor="middle">${escapeXml(c)}</text>` : ""))
    .join("");
  return frame(options.id, options.title, options.unit, scale, series, bars, labels);
}

/**
 * Points (joined by a line per series) over a time range. `fromZero: false` lets the axis start near
 * the smallest value, so that a small change in a large number shows.
 */
export function timeChart(options: { id: string; title: string; unit: string; from: number; to: number; series: TimeSeries[]; integer?: boolean; fromZero?: boolean }): string {
  const values = options.series.flatMap((s) => s.points.map((p) => p.value));
  const scale = niceScale(Math.max(0, ...values), { integer: options.integer === true, ...(options.fromZero === false && values.length > 0 ? { min: Math.min(...values) } : {}) });
  const span = Math.max(1, options.to - options.from);
  const x = (t: number) => MARGIN.left + ((t - options.from) / span) * PLOT_W;
  const y = (v: number) => MARGIN.top + PLOT_H - ((v - scale.min) / (scale.max - scale.min)) * PLOT_H;
  let body = "";
  for (const s of options.series) {
    if (s.points.length === 0) continue;
    const path = s.points.map((p, i) => `${i === 0 ? "M" : "L"}${r(x(p.at))},${r(y(p.value))}`).join("");
    body += `<path class="line" d="${path}" stroke="${s.color}" fill="none"/>`;
    body += s.points
      .map((p) => `<circle class="point" cx="${r(x(p.at))}" cy="${r(y(p.value))}" r="3" fill="${s.color}"><title>${escapeXml(`${new Date(p.at).toISOString().slice(0, 16).replace("T", " ")} ${s.name}: ${fmt(p.value)}`)}</title></circle>`)
      .join("");
  }
  // A label at each UTC midnight in the range (at most about 10 of them).
  const DAY = 86_400_000;
  const midnights: number[] = [];
  for (let t = Math.ceil(options.from / DAY) * DAY; t <= options.to; t += DAY) midnights.push(t);
  const every = Math.max(1, Math.ceil(midnights.length / 10));
  const labels = midnights
    .filter((_, i) => i % every === 0)
    .map((t) => {
      // Labels fit: centred on their day, or kept inside the chart at either end.
      const anchor = x(t) > WIDTH - MARGIN.right - 20 ? "end" : x(t) < MARGIN.left + 20 ? "start" : "middle";
      return `<line class="grid" x1="${r(x(t))}" x2="${r(x(t))}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}"/><text class="tick" x="${r(x(t))}" y="${HEIGHT - 14}" text-anchor="${anchor}">${new Date(t).toISOString().slice(5, 10)}</text>`;
    })
    .join("");
  return frame(options.id, options.title, options.unit, scale, options.series, body, labels);
}

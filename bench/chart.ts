/**
 * A small, dependency-free SVG line chart: one polyline per series (or markers only, for
 * a series measured at fixed x values, such as N:M patterns), labelled axes with ticks,
 * an optional horizontal reference line (1.0x: "as fast as dense"), a legend and a caption.
 * The y axis may be logarithmic, which keeps 0.5x and 2x equally far from 1x.
 * Used for bench/results/<date>-sweep.svg (speedup against sparsity).
 */

export interface ChartPoint {
  x: number;
  y: number;
  /** Shown in the marker's tooltip and, for marker-only series, beside the marker (e.g. '2:4'). */
  label?: string;
}

export interface ChartSeries {
  label: string;
  points: readonly ChartPoint[];
  /** Draw markers without a connecting line (values measured at a few fixed x only). */
  markersOnly?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Small text under the plot: machine, date, what was measured ('\n' starts a new line). */
  caption?: string;
  /** Logarithmic y axis (base 2 ticks). */
  logY?: boolean;
  /** Fixed x range; by default the data's range. */
  xDomain?: readonly [number, number];
  /** Formats an x tick (default: the number). */
  xTick?: (x: number) => string;
  /** Formats a y tick (default: the number with an 'x' suffix). */
  yTick?: (y: number) => string;
  /** A dashed horizontal line at this y, labelled (e.g. 1 for "dense"). */
  reference?: { y: number; label: string };
  /** Width of the plot area plus axes (the legend adds its own width). */
  width?: number;
  height?: number;
}

// Colour-blind-safe (Okabe–Ito) colours, and a dash pattern per series so print in grey still separates them.
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3', '', '6 3', '2 3', ''];

/** Escapes text for an SVG text node or attribute. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const num = (v: number) => (Math.round(v * 10) / 10).toString();

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, about `count` of them. */
export function linearTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  // Integer multiples of the step, rounded to 12 digits so 0.1 * 6 prints as 0.6.
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toPrecision(12)));
  return out;
}

/** Powers of two inside [lo, hi] (lo > 0); at least the two ends when no power of two falls inside. */
export function log2Ticks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.ceil(Math.log2(lo) - 1e-9); e <= Math.floor(Math.log2(hi) + 1e-9); e++) out.push(2 ** e);
  return out.length >= 2 ? out : [lo, hi];
}

/** The chart as a complete SVG document. Points with a non-finite or (on a log axis) non-positive y are left out. */
export function lineChartSvg(series: readonly ChartSeries[], o: LineChartOptions): string {
  // The legend gets the room its longest label needs (about 7 px a character at 12 px sans-serif).
  const legendW = Math.max(120, 40 + 7 * Math.max(0, ...series.map((s) => s.label.length), o.reference?.label.length ?? 0));
  const W = (o.width ?? 540) + legendW;
  const H = o.height ?? 440;
  const captionLines = o.caption ? o.caption.split('\n') : [];
  const pad = { left: 64, right: legendW + 16, top: 40, bottom: 56 + 14 * captionLines.length };
  const plotW = W - pad.left - pad.right;
  const plotH = H - pad.top - pad.bottom;
  const usable = (p: ChartPoint) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logY || p.y > 0);
  const clean = series.map((s) => ({ ...s, points: s.points.filter(usable) }));
  const all = clean.flatMap((s) => s.points);

  const xs = all.map((p) => p.x);
  let [x0, x1] = o.xDomain ?? [Math.min(...xs, Infinity), Math.max(...xs, -Infinity)];
  if (!Number.isFinite(x0) || !Number.isFinite(x1)) [x0, x1] = [0, 1];
  if (x1 <= x0) [x0, x1] = [x0 - 0.5, x0 + 0.5];

  const ys = all.map((p) => p.y);
  if (o.reference) ys.push(o.reference.y);
  let y0 = Math.min(...ys, Infinity);
  let y1 = Math.max(...ys, -Infinity);
  if (!Number.isFinite(y0) || !Number.isFinite(y1)) [y0, y1] = o.logY ? [0.5, 2] : [0, 1];
  if (o.logY) {
    // Out to the powers of two around the data (plus a 10% margin), so both ends carry a tick.
    [y0, y1] = [2 ** Math.floor(Math.log2(y0 / 1.1)), 2 ** Math.ceil(Math.log2(y1 * 1.1))];
  } else {
    y0 = Math.min(0, y0);
    y1 = y1 > y0 ? y1 * 1.08 : y0 + 1;
  }
  const sx = (x: number) => pad.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = o.logY
    ? (y: number) => pad.top + (1 - (Math.log(y) - Math.log(y0)) / (Math.log(y1) - Math.log(y0))) * plotH
    : (y: number) => pad.top + (1 - (y - y0) / (y1 - y0)) * plotH;
  const xTick = o.xTick ?? ((x: number) => String(x));
  const yTick = o.yTick ?? ((y: number) => `${y}x`);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`,
  ];

  // Grid and ticks.
  for (const t of o.logY ? log2Ticks(y0, y1) : linearTicks(y0, y1)) {
    const y = num(sy(t));
    out.push(`<line class="grid" x1="${pad.left}" y1="${y}" x2="${pad.left + plotW}" y2="${y}" stroke="#e3e3e3"/>`);
    out.push(`<text class="tick" x="${pad.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(yTick(t))}</text>`);
  }
  for (const t of linearTicks(x0, x1, 9)) {
    const x = num(sx(t));
    out.push(`<line class="grid" x1="${x}" y1="${pad.top}" x2="${x}" y2="${pad.top + plotH}" stroke="#f0f0f0"/>`);
    out.push(`<text class="tick" x="${x}" y="${pad.top + plotH + 16}" text-anchor="middle">${escapeXml(xTick(t))}</text>`);
  }
  out.push(`<rect x="${pad.left}" y="${pad.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`);

  // Axis labels.
  out.push(`<text class="axis-label" x="${num(pad.left + plotW / 2)}" y="${pad.top + plotH + 36}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  const yl = num(pad.top + plotH / 2);
  out.push(`<text class="axis-label" x="16" y="${yl}" text-anchor="middle" transform="rotate(-90 16 ${yl})">${escapeXml(o.yLabel)}</text>`);

  if (o.reference && (!o.logY || o.reference.y > 0)) {
    const y = num(sy(o.reference.y));
    out.push(`<line class="reference" x1="${pad.left}" y1="${y}" x2="${pad.left + plotW}" y2="${y}" stroke="#333" stroke-width="1.5" stroke-dasharray="4 4"/>`);
  }

  // Point labels already placed (text boxes), so a label that would cover another one moves
  // down a line instead (1:4 and 2:8 both sit at 75% sparsity, often at similar speed-ups).
  const placed: { x: number; y: number; w: number }[] = [];
  const labelY = (x: number, y: number, text: string): number => {
    const w = 6.5 * text.length;
    let ly = y;
    const hits = (b: { x: number; y: number; w: number }) => x < b.x + b.w && b.x < x + w && Math.abs(ly - b.y) < 12;
    for (let tries = 0; tries < 8 && placed.some(hits); tries++) ly += 13;
    placed.push({ x, y: ly, w });
    return ly;
  };

  // Series, then the legend.
  clean.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const dash = DASHES[i % DASHES.length]!;
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    out.push(`<g class="series" data-label="${escapeXml(s.label)}">`);
    if (!s.markersOnly && pts.length > 1)
      out.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${pts
          .map((p) => `${num(sx(p.x))},${num(sy(p.y))}`)
          .join(' ')}"/>`,
      );
    for (const p of pts) {
      const cx = num(sx(p.x));
      const cy = num(sy(p.y));
      const tip = `${s.label}${p.label ? ` ${p.label}` : ''}: ${xTick(p.x)}, ${yTick(Math.round(p.y * 100) / 100)}`;
      out.push(
        s.markersOnly
          ? `<rect x="${num(sx(p.x) - 4.5)}" y="${num(sy(p.y) - 4.5)}" width="9" height="9" fill="${colour}"><title>${escapeXml(tip)}</title></rect>`
          : `<circle cx="${cx}" cy="${cy}" r="3.5" fill="${colour}"><title>${escapeXml(tip)}</title></circle>`,
      );
      if (s.markersOnly && p.label) {
        const lx = sx(p.x) + 7;
        out.push(`<text x="${num(lx)}" y="${num(labelY(lx, sy(p.y) + 4, p.label))}" fill="${colour}" font-size="11">${escapeXml(p.label)}</text>`);
      }
    }
    out.push('</g>');
    const ly = pad.top + 8 + i * 20;
    const lx = W - legendW;
    out.push(
      s.markersOnly
        ? `<rect x="${lx + 9}" y="${ly - 4.5}" width="9" height="9" fill="${colour}"/>`
        : `<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
    out.push(`<text class="legend" x="${lx + 32}" y="${ly}" dominant-baseline="middle">${escapeXml(s.label)}</text>`);
  });

  // The reference line's label sits in the legend, under the series, where it cannot cover a marker.
  if (o.reference) {
    const ly = pad.top + 8 + clean.length * 20;
    const lx = W - legendW;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="#333" stroke-width="1.5" stroke-dasharray="4 4"/>`);
    out.push(`<text class="legend" x="${lx + 32}" y="${ly}" dominant-baseline="middle">${escapeXml(o.reference.label)}</text>`);
  }
  captionLines.forEach((line, i) =>
    out.push(`<text class="caption" x="12" y="${H - 10 - 14 * (captionLines.length - 1 - i)}" font-size="10.5" fill="#555">${escapeXml(line)}</text>`),
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}

// Product pictures drawn as inline SVG from a catalog motif and hue: no image requests, nothing from
// another host, and every node built with createElementNS (no markup parsing).
const NS = 'http://www.w3.org/2000/svg';

// Shapes in a 160 × 120 box. Colours are roles, resolved per product hue below.
const MOTIFS = {
  shoe: [
    ['path', { d: 'M28 88c0-16 8-30 22-32l12-2c6 9 18 14 32 15l24 4c10 2 16 8 16 15H28z', fill: 'main' }],
    ['rect', { x: 24, y: 88, width: 114, height: 10, rx: 5, fill: 'dark' }],
    ['path', { d: 'M62 60l7 5M70 61l7 5M78 63l7 5', stroke: 'light', 'stroke-width': 3, 'stroke-linecap': 'round' }],
    ['path', { d: 'M70 82l30-12', stroke: 'light', 'stroke-width': 4, 'stroke-linecap': 'round' }],
  ],
  boot: [
    ['path', { d: 'M56 26h32v44c14 2 30 6 38 12 4 3 5 7 5 10v2H56z', fill: 'main' }],
    ['rect', { x: 52, y: 94, width: 84, height: 7, rx: 3, fill: 'dark' }],
    ['rect', { x: 82, y: 19, width: 9, height: 13, rx: 3, fill: 'dark' }],
    ['path', { d: 'M79 38q-7 16 0 30', stroke: 'light', 'stroke-width': 3, 'stroke-linecap': 'round' }],
  ],
  sandal: [
    ['path', { d: 'M30 86c0-6 6-10 14-10h76c8 0 14 4 14 10s-6 10-14 10H44c-8 0-14-4-14-10z', fill: 'main' }],
    ['rect', { x: 32, y: 92, width: 100, height: 6, rx: 3, fill: 'dark' }],
    ['path', { d: 'M60 82c4-20 40-20 44 0', stroke: 'dark', 'stroke-width': 12 }],
  ],
  fabric: [
    ['rect', { x: 34, y: 72, width: 92, height: 22, rx: 7, fill: 'main' }],
    ['rect', { x: 40, y: 52, width: 80, height: 22, rx: 7, fill: 'dark' }],
    ['rect', { x: 46, y: 32, width: 68, height: 22, rx: 7, fill: 'main' }],
    ['path', { d: 'M52 43h56M46 63h68M40 83h80', stroke: 'light', 'stroke-width': 2, 'stroke-dasharray': '4 4' }],
  ],
  rug: [
    ['line', { x1: 30, y1: 27, x2: 130, y2: 27, stroke: 'dark', 'stroke-width': 6, 'stroke-dasharray': '2 4' }],
    ['line', { x1: 30, y1: 97, x2: 130, y2: 97, stroke: 'dark', 'stroke-width': 6, 'stroke-dasharray': '2 4' }],
    ['rect', { x: 28, y: 30, width: 104, height: 64, rx: 3, fill: 'main' }],
    ['rect', { x: 38, y: 40, width: 84, height: 44, fill: 'none', stroke: 'light', 'stroke-width': 3 }],
    ['path', { d: 'M80 46l16 16-16 16-16-16z', fill: 'dark' }],
  ],
  vase: [
    ['path', { d: 'M70 24h20v10c0 8 18 16 18 38 0 20-12 28-28 28s-28-8-28-28c0-22 18-30 18-38z', fill: 'main' }],
    ['rect', { x: 66, y: 20, width: 28, height: 7, rx: 3, fill: 'dark' }],
    ['path', { d: 'M57 64h46', stroke: 'light', 'stroke-width': 4, 'stroke-linecap': 'round' }],
    ['circle', { cx: 70, cy: 80, r: 1.8, fill: 'light' }],
    ['circle', { cx: 88, cy: 86, r: 1.8, fill: 'light' }],
    ['circle', { cx: 80, cy: 74, r: 1.8, fill: 'light' }],
  ],
  candle: [
    ['rect', { x: 44, y: 54, width: 20, height: 44, rx: 3, fill: 'main' }],
    ['rect', { x: 70, y: 40, width: 20, height: 58, rx: 3, fill: 'main' }],
    ['rect', { x: 96, y: 62, width: 20, height: 36, rx: 3, fill: 'main' }],
    ['path', { d: 'M54 54v-5M80 40v-5M106 62v-5', stroke: 'dark', 'stroke-width': 2 }],
    ['ellipse', { cx: 54, cy: 44, rx: 4, ry: 7, fill: 'flame' }],
    ['ellipse', { cx: 80, cy: 30, rx: 4, ry: 7, fill: 'flame' }],
    ['ellipse', { cx: 106, cy: 52, rx: 4, ry: 7, fill: 'flame' }],
    ['rect', { x: 38, y: 98, width: 84, height: 4, rx: 2, fill: 'dark' }],
  ],
  teapot: [
    ['path', { d: 'M100 66l22-12-4 10-16 10z', fill: 'main' }],
    ['path', { d: 'M48 62l-22-9', stroke: 'dark', 'stroke-width': 7, 'stroke-linecap': 'round' }],
    ['ellipse', { cx: 74, cy: 72, rx: 30, ry: 24, fill: 'main' }],
    ['ellipse', { cx: 74, cy: 50, rx: 16, ry: 5, fill: 'dark' }],
    ['circle', { cx: 74, cy: 44, r: 4, fill: 'dark' }],
    ['path', { d: 'M110 84h22l-3 14h-16z', fill: 'dark' }],
  ],
  knife: [
    ['path', { d: 'M22 74c8-10 24-16 44-16h48v22H32c-6 0-10-2-10-6z', fill: 'steel' }],
    ['path', { d: 'M28 78h84', stroke: 'dark', 'stroke-width': 1.5, opacity: 0.4 }],
    ['rect', { x: 112, y: 56, width: 6, height: 26, rx: 2, fill: 'dark' }],
    ['rect', { x: 117, y: 60, width: 30, height: 18, rx: 6, fill: 'main' }],
  ],
  pan: [
    ['rect', { x: 94, y: 60, width: 52, height: 12, rx: 6, fill: 'dark' }],
    ['circle', { cx: 140, cy: 66, r: 3, fill: 'light' }],
    ['circle', { cx: 64, cy: 66, r: 36, fill: 'dark' }],
    ['circle', { cx: 64, cy: 66, r: 28, fill: 'main' }],
  ],
  kettle: [
    ['path', { d: 'M104 84c14-4 10-30 32-34', stroke: 'main', 'stroke-width': 6, 'stroke-linecap': 'round' }],
    ['path', { d: 'M62 56c0-22 36-22 36 0', stroke: 'dark', 'stroke-width': 6 }],
    ['path', { d: 'M50 96c0-26 10-44 30-44s30 18 30 44z', fill: 'main' }],
    ['ellipse', { cx: 80, cy: 53, rx: 14, ry: 4, fill: 'dark' }],
    ['circle', { cx: 80, cy: 47, r: 4, fill: 'dark' }],
    ['rect', { x: 46, y: 94, width: 68, height: 5, rx: 2, fill: 'dark' }],
  ],
  book: [
    ['rect', { x: 36, y: 80, width: 88, height: 16, rx: 2, fill: 'main' }],
    ['rect', { x: 44, y: 64, width: 80, height: 16, rx: 2, fill: 'dark' }],
    ['rect', { x: 34, y: 48, width: 84, height: 16, rx: 2, fill: 'main' }],
    ['path', { d: 'M118 52v8M124 68v8', stroke: 'light', 'stroke-width': 2 }],
    ['rect', { x: 50, y: 80, width: 6, height: 16, fill: 'light' }],
    ['rect', { x: 96, y: 64, width: 6, height: 16, fill: 'light' }],
    ['rect', { x: 46, y: 48, width: 6, height: 16, fill: 'light' }],
  ],
  earbuds: [
    ['rect', { x: 48, y: 58, width: 64, height: 42, rx: 20, fill: 'main' }],
    ['path', { d: 'M50 74h60', stroke: 'dark', 'stroke-width': 2 }],
    ['circle', { cx: 80, cy: 88, r: 2.5, fill: 'light' }],
    ['rect', { x: 58, y: 30, width: 7, height: 22, rx: 3, fill: 'dark' }],
    ['circle', { cx: 62, cy: 30, r: 10, fill: 'dark' }],
    ['rect', { x: 96, y: 28, width: 7, height: 22, rx: 3, fill: 'dark' }],
    ['circle', { cx: 100, cy: 28, r: 10, fill: 'dark' }],
  ],
  reader: [
    ['rect', { x: 50, y: 16, width: 60, height: 88, rx: 8, fill: 'dark' }],
    ['rect', { x: 57, y: 24, width: 46, height: 64, rx: 2, fill: 'paper' }],
    ['path', { d: 'M63 34h34M63 42h34M63 50h28M63 58h34M63 66h22', stroke: 'main', 'stroke-width': 2 }],
    ['rect', { x: 72, y: 93, width: 16, height: 4, rx: 2, fill: 'light' }],
  ],
  speaker: [
    ['rect', { x: 48, y: 30, width: 64, height: 68, rx: 14, fill: 'main' }],
    ['circle', { cx: 80, cy: 70, r: 18, fill: 'dark' }],
    ['circle', { cx: 80, cy: 70, r: 7, fill: 'light' }],
    ['circle', { cx: 80, cy: 42, r: 4, fill: 'dark' }],
  ],
  backpack: [
    ['rect', { x: 48, y: 30, width: 64, height: 72, rx: 14, fill: 'main' }],
    ['rect', { x: 52, y: 20, width: 56, height: 16, rx: 6, fill: 'dark' }],
    ['rect', { x: 58, y: 66, width: 44, height: 26, rx: 6, fill: 'dark' }],
    ['rect', { x: 76, y: 56, width: 8, height: 14, rx: 2, fill: 'light' }],
  ],
  tent: [
    ['path', { d: 'M16 97h128', stroke: 'dark', 'stroke-width': 3, 'stroke-linecap': 'round' }],
    ['path', { d: 'M24 96L80 30l56 66z', fill: 'main' }],
    ['path', { d: 'M80 50l-18 46h36z', fill: 'dark' }],
    ['path', { d: 'M80 31v-9', stroke: 'dark', 'stroke-width': 3, 'stroke-linecap': 'round' }],
  ],
  bottle: [
    ['path', { d: 'M92 24c12 0 12 12 0 12', stroke: 'dark', 'stroke-width': 3 }],
    ['rect', { x: 62, y: 34, width: 36, height: 66, rx: 10, fill: 'main' }],
    ['rect', { x: 66, y: 18, width: 28, height: 18, rx: 5, fill: 'dark' }],
    ['rect', { x: 62, y: 58, width: 36, height: 8, fill: 'light', opacity: 0.6 }],
  ],
  watch: [
    ['rect', { x: 68, y: 8, width: 24, height: 104, rx: 6, fill: 'dark' }],
    ['rect', { x: 108, y: 55, width: 7, height: 10, rx: 2, fill: 'main' }],
    ['circle', { cx: 80, cy: 60, r: 30, fill: 'main' }],
    ['circle', { cx: 80, cy: 60, r: 24, fill: 'paper' }],
    ['path', { d: 'M80 40v4M80 76v4M60 60h4M96 60h4', stroke: 'dark', 'stroke-width': 2 }],
    ['path', { d: 'M80 60V46M80 60l10 6', stroke: 'dark', 'stroke-width': 3, 'stroke-linecap': 'round' }],
  ],
  scarf: [
    ['path', { d: 'M80 16l54 44-54 44-54-44z', fill: 'main' }],
    ['path', { d: 'M80 30l36 30-36 30-36-30z', fill: 'none', stroke: 'light', 'stroke-width': 3 }],
    ['circle', { cx: 80, cy: 60, r: 9, fill: 'dark' }],
  ],
  coat: [
    ['path', { d: 'M62 18l18 12 18-12 24 14 6 70H32l6-70z', fill: 'main' }],
    ['path', { d: 'M62 18l18 36 18-36', fill: 'none', stroke: 'dark', 'stroke-width': 3, 'stroke-linejoin': 'round' }],
    ['circle', { cx: 86, cy: 66, r: 2.5, fill: 'dark' }],
    ['circle', { cx: 86, cy: 80, r: 2.5, fill: 'dark' }],
    ['path', { d: 'M44 84h16M100 84h16', stroke: 'dark', 'stroke-width': 3, 'stroke-linecap': 'round' }],
  ],
};

function palette(hue) {
  return {
    bg: `hsl(${hue} 42% 93%)`,
    halo: `hsl(${hue} 40% 86%)`,
    main: `hsl(${hue} 40% 52%)`,
    dark: `hsl(${hue} 36% 30%)`,
    light: `hsl(${hue} 55% 94%)`,
    paper: '#f4f1ea',
    steel: '#d7dde3',
    flame: '#f2a93b',
  };
}

function node(tag, attrs, colours) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, colours[v] ?? String(v));
  if (!('fill' in attrs)) el.setAttribute('fill', 'none'); // strokes only
  return el;
}

/** An <svg> picture for a catalog item ({ art: { motif, hue } }); decorative, so aria-hidden. */
export function productArt(item) {
  const { motif = 'book', hue = 200 } = item.art ?? {};
  const colours = palette(Number(hue) || 0);
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 160 120');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'art-svg');
  svg.append(
    node('rect', { width: 160, height: 120, fill: 'bg' }, colours),
    node('circle', { cx: 118, cy: 34, r: 46, fill: 'halo' }, colours),
    node('ellipse', { cx: 80, cy: 104, rx: 54, ry: 5, fill: 'dark', opacity: 0.14 }, colours),
    ...(MOTIFS[motif] ?? MOTIFS.book).map(([tag, attrs]) => node(tag, attrs, colours)),
  );
  return svg;
}

// Draws the app icon (a terminal prompt on a dark rounded square) and writes it as
// a PNG with nothing but zlib: `node build/make-icons.mjs` -> resources/icons/512x512.png.
// Deterministic, so the committed file can always be regenerated from this script.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const SIZE = 512;
const SUB = 4; // 4x4 samples a pixel, for smooth edges
const OUT = fileURLToPath(new URL('../resources/icons/512x512.png', import.meta.url));

const TOP = [0x24, 0x34, 0x48];
const BOTTOM = [0x0c, 0x14, 0x20];
const GREEN = [0x3d, 0xd6, 0x8c];

/** Signed distance to a rounded box centred at (cx, cy) with half sizes hw, hh and corner radius r. */
function box(x, y, cx, cy, hw, hh, r) {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** Distance to the segment (ax, ay)-(bx, by). */
function segment(x, y, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const h = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - ax - dx * h, y - ay - dy * h);
}

function sample(x, y) {
  if (box(x, y, 256, 256, 240, 240, 96) > 0) return null;
  const chevron = Math.min(segment(x, y, 148, 168, 258, 256), segment(x, y, 258, 256, 148, 344)) <= 24;
  const cursor = box(x, y, 352, 330, 62, 22, 10) <= 0;
  if (chevron || cursor) return GREEN;
  const t = (y - 16) / 480;
  return TOP.map((c, i) => Math.round(c + (BOTTOM[i] - c) * t));
}

function pixels() {
  const raw = Buffer.alloc((SIZE * 4 + 1) * SIZE);
  for (let py = 0; py < SIZE; py++) {
    const row = py * (SIZE * 4 + 1);
    raw[row] = 0; // filter: none
    for (let px = 0; px < SIZE; px++) {
      let n = 0;
      const sum = [0, 0, 0];
      for (let sy = 0; sy < SUB; sy++) {
        for (let sx = 0; sx < SUB; sx++) {
          const c = sample(px + (sx + 0.5) / SUB, py + (sy + 0.5) / SUB);
          if (!c) continue;
          n++;
          for (let i = 0; i < 3; i++) sum[i] += c[i];
        }
      }
      const o = row + 1 + px * 4;
      for (let i = 0; i < 3; i++) raw[o + i] = n ? Math.round(sum[i] / n) : 0;
      raw[o + 3] = Math.round((n / (SUB * SUB)) * 255);
    }
  }
  return raw;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

const header = Buffer.alloc(13);
header.writeUInt32BE(SIZE, 0);
header.writeUInt32BE(SIZE, 4);
header[8] = 8; // bits per channel
header[9] = 6; // RGBA
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', header),
  chunk('IDAT', zlib.deflateSync(pixels(), { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
fs.mkdirSync(new URL('../resources/icons/', import.meta.url), { recursive: true });
fs.writeFileSync(OUT, png);
console.log(`wrote ${OUT} (${png.length} bytes)`);

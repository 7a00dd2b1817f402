import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { Random } from '../../training/glo/random.ts';
import { tempDir } from '../training/training-fixtures.ts';

/**
 * A multi-modal image set: `modes` distinct templates (a disc of one colour at one place on a background
 * of another), each repeated with small jitter. Codes of such a set form clusters, and samplers that put
 * codes between the clusters make blends that are not in the data: what the sampler comparison needs.
 * `labelled` puts each template's images in its own class folder.
 */
export async function makeModalImageFolder(perMode: number, size = 32, seed = 1, { labelled = false } = {}): Promise<string> {
  const dir = await tempDir('glo-modal-');
  const random = new Random(seed);
  const templates = [
    { cx: 0.3, cy: 0.3, r: 0.22, fg: [220, 30, 30], bg: [250, 250, 250] },
    { cx: 0.7, cy: 0.7, r: 0.22, fg: [20, 40, 200], bg: [250, 250, 250] },
    { cx: 0.5, cy: 0.5, r: 0.3, fg: [250, 250, 250], bg: [20, 20, 20] },
    { cx: 0.7, cy: 0.3, r: 0.18, fg: [30, 170, 40], bg: [240, 220, 120] },
  ];
  for (let n = 0; n < perMode * templates.length; n++) {
    const t = templates[n % templates.length];
    const cx = (t.cx + 0.06 * (random.uniform() - 0.5)) * size;
    const cy = (t.cy + 0.06 * (random.uniform() - 0.5)) * size;
    const r = t.r * size * (0.9 + 0.2 * random.uniform());
    const pixels = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      const inside = 1 / (1 + Math.exp((Math.hypot(x - cx, y - cy) - r) * 1.5));
      for (let c = 0; c < 3; c++) pixels[(y * size + x) * 3 + c] = Math.round(t.bg[c] * (1 - inside) + t.fg[c] * inside);
    }
    const png = await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
    // Labelled: one class subfolder per template, which the loader reads as labels.
    const folder = labelled ? path.join(dir, `mode-${n % templates.length}`) : dir;
    if (labelled) await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, `img-${String(n).padStart(3, '0')}.png`), png);
  }
  return dir;
}

import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Random } from '../../training/glo/random.ts';

/**
 * A small image folder the training tests generate: smooth coloured blobs on a background, different
 * per image, so there is something to learn and overfit quickly. Returns the folder.
 */
export async function makeImageFolder(count: number, size = 32, seed = 1): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'glo-images-'));
  await mkdir(dir, { recursive: true });
  const random = new Random(seed);
  for (let n = 0; n < count; n++) {
    const pixels = new Uint8Array(size * size * 3);
    const cx = random.uniform() * size;
    const cy = random.uniform() * size;
    const r = 4 + random.uniform() * size * 0.3;
    const colour = [random.int(256), random.int(256), random.int(256)];
    const bg = [200 + random.int(56), 200 + random.int(56), 200 + random.int(56)];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = Math.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (r * r)));
        for (let c = 0; c < 3; c++) pixels[(y * size + x) * 3 + c] = Math.round(bg[c] * (1 - inside) + colour[c] * inside);
      }
    }
    const png = await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
    await writeFile(path.join(dir, `img-${String(n).padStart(3, '0')}.png`), png);
  }
  return dir;
}

export async function tempDir(prefix = 'glo-run-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

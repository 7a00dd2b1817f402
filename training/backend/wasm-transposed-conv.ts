// conv2dTranspose's kernel (Conv2DBackpropInput) rebuilt on XNNPACK's Conv2D by sub-pixel decomposition.
// wasm's own kernel is a scalar C++ loop, and conv2dTranspose runs it in the FORWARD pass: in a DCGAN
// generator it was 61% of a training step.
//
// dx[h] = sum over (oh, kh) with oh*s + kh - padTop = h of dy[oh] * W[kh]. Rows h = q*s + r of one phase r
// all meet the same taps kh = a_r, a_r + s, a_r + 2s, ... (a_r = (r + padTop) mod s), reading dy rows
// q + c_r - j: each phase is an ordinary stride-1 conv of dy with a flipped sub-kernel of ceil((K-a_r)/s)
// taps, and the phases interleave back into space (depth-to-space). Two ways to run the phases:
// - one conv per phase (sH*sW XNNPACK ops, every multiply useful): the default;
// - one conv for all phases, stacked as channels, over the full unpadded extent F = (OH-1)*s + K, then
//   cropped by the padding. It covers what the first cannot (a phase needing negative conv padding),
//   the 1x1-input case, where it is a single matmul, and few output channels. Its overcompute is
//   ((OH+1)/OH)^2 for K=4, s=2 'same': 1.56x at the 4x4 layer, which is why it is not the default.
import '@tensorflow/tfjs-backend-wasm';
import { backend_util, Conv2D, type Conv2DBackpropInputAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeIntermediates, heapFloat32, heapIndex, runWasmKernel, type ExplicitPadding } from './wasm-kernel-util.ts';

/** One output phase along one axis: dx rows r, r+s, r+2s, ... */
interface AxisPhase {
  /** First kernel tap of the phase; taps are a, a+s, a+2s, ... */
  firstTap: number;
  /** Number of taps (0: the phase gets no contribution, its rows are zero). */
  taps: number;
  /** dy row read by the phase's row q with its first tap is q + dyOffset. */
  dyOffset: number;
  /** Number of dx rows in the phase. */
  rows: number;
}

interface AxisPlan {
  /** The stride actually used: with a single dy row every tap lands on its own dx row whatever the stride,
   * so s = K turns the DCGAN 1x1 -> 4x4 projection into a single matmul. */
  stride: number;
  kernel: number;
  dyLength: number;
  dxLength: number;
  padBefore: number;
  phases: AxisPhase[];
}

function planAxis(dyLength: number, dxLength: number, kernel: number, stride: number, padBefore: number): AxisPlan {
  const s = dyLength === 1 ? Math.max(kernel, stride) : stride;
  const phases = Array.from({ length: s }, (_, r): AxisPhase => {
    const firstTap = (r + padBefore) % s;
    return {
      firstTap,
      taps: firstTap < kernel ? Math.ceil((kernel - firstTap) / s) : 0,
      dyOffset: Math.floor((r + padBefore) / s),
      rows: Math.max(0, Math.ceil((dxLength - r) / s)),
    };
  });
  return { stride: s, kernel, dyLength, dxLength, padBefore, phases };
}

/** A phase conv needs padding taps - 1 - dyOffset before dy; negative means it would skip dy rows. */
function perPhaseFits(axis: AxisPlan): boolean {
  return axis.phases.every((p) => p.taps === 0 || p.rows === 0 || p.dyOffset <= p.taps - 1);
}

export type TransposedConvStrategy = 'per-phase' | 'stacked';

/** How conv2dTranspose with these shapes would run on wasm; null: wasm's original kernel. */
export function planSubPixelTransposedConv(
  dyShape: number[], filterShape: [number, number, number, number], attrs: Conv2DBackpropInputAttrs,
) {
  if (attrs.dataFormat === 'NCHW') return null;
  const convInfo = backend_util.computeConv2DInfo(
    attrs.inputShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels,
    filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = convInfo;
  if (dyShape[1] !== outHeight || dyShape[2] !== outWidth || dyShape[3] !== outChannels) return null;
  const height = planAxis(outHeight, inHeight, filterHeight, strideHeight, padInfo.top);
  const width = planAxis(outWidth, inWidth, filterWidth, strideWidth, padInfo.left);
  const singleTap = height.phases.every((p) => p.taps <= 1) && width.phases.every((p) => p.taps <= 1);
  // XNNPACK computes output channels in tiles of 8: a per-phase conv with 3 outputs (the RGB layer)
  // wastes most of each tile, while stacking gives 4x the channels (measured at 64 px, batch 64:
  // 42 ms stacked vs 50-69 ms per-phase, in spite of the stacked form's overcompute).
  const fewChannels = inChannels < 8;
  const strategy: TransposedConvStrategy =
    !singleTap && !fewChannels && perPhaseFits(height) && perPhaseFits(width) ? 'per-phase' : 'stacked';
  return { strategy, batchSize, inChannels, outChannels, height, width };
}
type Plan = NonNullable<ReturnType<typeof planSubPixelTransposedConv>>;

/** Where dx's phase (r1, r2) lives: a float32 [N, rows, cols, channels] tensor, from channelOffset. */
interface PhaseSource {
  tensor: TensorInfo;
  channelOffset: number;
}

/**
 * The phases' sources, and the dx index where phase 0, block 0 sits: dx row h belongs to phase
 * r1 = (h - origin.row) mod sH, block (h - origin.row - r1) / sH (columns likewise).
 */
interface Phases {
  sources: (PhaseSource | null)[][];
  origin: { row: number; col: number };
}

// Copies taps W[firstTap + s*(taps-1-t), ..., ci, co] (flipped) into filter[t, u, co, channelOffset + ci]
// of a [tapsH, tapsW, Co, channels] tensor. A JS loop over the heap: filters are small next to the
// activations (<= 2 M floats per layer in the 64 px generator), and no wasm kernel does this gather.
function copySubKernel(
  heap: Float32Array, filter: number, kernelWidth: number, ci: number, co: number,
  rowPhase: AxisPhase, colPhase: AxisPhase, sH: number, sW: number,
  target: number, tapsH: number, tapsW: number, channels: number, channelOffset: number,
): void {
  for (let t = tapsH - rowPhase.taps; t < tapsH; t++) {
    const kh = rowPhase.firstTap + sH * (tapsH - 1 - t);
    for (let u = tapsW - colPhase.taps; u < tapsW; u++) {
      const kw = colPhase.firstTap + sW * (tapsW - 1 - u);
      const from = filter + (kh * kernelWidth + kw) * ci * co;
      const to = target + (t * tapsW + u) * co * channels + channelOffset;
      for (let c = 0; c < ci; c++) {
        for (let o = 0; o < co; o++) heap[to + o * channels + c] = heap[from + c * co + o];
      }
    }
  }
}

function conv(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, pad: ExplicitPadding): TensorInfo {
  return runWasmKernel(backend, Conv2D, { x: dy, filter }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] });
}

function perPhaseConvs(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, plan: Plan): Phases {
  const { height, width, inChannels: ci, outChannels: co } = plan;
  const sources = height.phases.map((rowPhase) => width.phases.map((colPhase): PhaseSource | null => {
    if (rowPhase.taps === 0 || colPhase.taps === 0 || rowPhase.rows === 0 || colPhase.rows === 0) return null;
    const subKernel = backend.makeOutput([rowPhase.taps, colPhase.taps, co, ci], 'float32');
    const heap = heapFloat32(backend);
    copySubKernel(heap, heapIndex(backend, filter), width.kernel, ci, co, rowPhase, colPhase, height.stride, width.stride,
      heapIndex(backend, subKernel), rowPhase.taps, colPhase.taps, ci, 0);
    const after = (phase: AxisPhase, axis: AxisPlan) => Math.max(0, phase.rows - 1 + phase.dyOffset - (axis.dyLength - 1));
    const tensor = conv(backend, dy, subKernel, [[0, 0],
      [rowPhase.taps - 1 - rowPhase.dyOffset, after(rowPhase, height)],
      [colPhase.taps - 1 - colPhase.dyOffset, after(colPhase, width)], [0, 0]]);
    disposeIntermediates(backend, subKernel);
    return { tensor, channelOffset: 0 };
  }));
  return { sources, origin: { row: 0, col: 0 } };
}

function stackedConv(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, plan: Plan): Phases {
  const { height, width, inChannels: ci, outChannels: co } = plan;
  const sH = height.stride;
  const sW = width.stride;
  // Phases of the full (unpadded) output: full row f = q*s + r takes taps r, r+s, ..., read from dy row
  // q - j, so every phase shares the same padding and the conv has T = ceil(K/s) taps.
  const fullPhases = (axis: AxisPlan) => Array.from({ length: axis.stride }, (_, r): AxisPhase => ({
    firstTap: r, taps: r < axis.kernel ? Math.ceil((axis.kernel - r) / axis.stride) : 0, dyOffset: 0, rows: 0,
  }));
  const rowPhases = fullPhases(height);
  const colPhases = fullPhases(width);
  const tapsH = Math.ceil(height.kernel / sH);
  const tapsW = Math.ceil(width.kernel / sW);
  const channels = sH * sW * ci;
  const stackedKernel = backend.makeOutput([tapsH, tapsW, co, channels], 'float32');
  const heap = heapFloat32(backend);
  const target = heapIndex(backend, stackedKernel);
  heap.fill(0, target, target + tapsH * tapsW * co * channels);
  rowPhases.forEach((rowPhase, r1) => colPhases.forEach((colPhase, r2) => copySubKernel(
    heap, heapIndex(backend, filter), width.kernel, ci, co, rowPhase, colPhase, sH, sW,
    target, tapsH, tapsW, channels, (r1 * sW + r2) * ci)));
  const blocks = (axis: AxisPlan) => Math.ceil(((axis.dyLength - 1) * axis.stride + axis.kernel) / axis.stride);
  const tensor = conv(backend, dy, stackedKernel, [[0, 0],
    [tapsH - 1, blocks(height) - height.dyLength], [tapsW - 1, blocks(width) - width.dyLength], [0, 0]]);
  disposeIntermediates(backend, stackedKernel);
  const sources = Array.from({ length: sH }, (_, r1) => Array.from({ length: sW }, (_, r2): PhaseSource => ({
    tensor, channelOffset: (r1 * sW + r2) * ci,
  })));
  // dx row h is full row h + padBefore.
  return { sources, origin: { row: -height.padBefore, col: -width.padBefore } };
}

// dx[n, h, w, :] = the phase source's [n, block(h), block(w), channelOffset...], zero where the phase is
// missing or its conv did not reach that block. Channel runs are contiguous on both sides; long ones go
// through copyWithin (a memmove), short ones (the RGB layer) through a plain loop, which beats a call per
// 3 floats. wasm's DepthToSpace, which this replaces, computes each element's source through generic
// stride arrays and was measured slower than the conv before it (305 ms vs 254 ms, 64x32x32x64 output).
function interleave(backend: BackendWasm, { sources, origin }: Phases, plan: Plan): TensorInfo {
  const { batchSize, inChannels: channels, height, width } = plan;
  const [sH, sW] = [height.stride, width.stride];
  const out = backend.makeOutput([batchSize, height.dxLength, width.dxLength, channels], 'float32');
  const heap = heapFloat32(backend);
  let dst = heapIndex(backend, out);
  const phaseOf = (index: number, s: number) => (((index % s) + s) % s);
  const colPhase = Array.from({ length: width.dxLength }, (_, w) => phaseOf(w - origin.col, sW));
  const colBlock = colPhase.map((r2, w) => (w - origin.col - r2) / sW);
  const rowStart = new Array<number>(sW);
  const pixelStride = new Array<number>(sW);
  const blockCount = new Array<number>(sW);
  const longRuns = channels >= 16;
  for (let n = 0; n < batchSize; n++) {
    for (let h = 0; h < height.dxLength; h++) {
      const r1 = phaseOf(h - origin.row, sH);
      const row = (h - origin.row - r1) / sH;
      for (let r2 = 0; r2 < sW; r2++) {
        const source = sources[r1][r2];
        rowStart[r2] = -1;
        if (source == null) continue;
        const [, rows, cols, stride] = source.tensor.shape;
        if (row < 0 || row >= rows) continue;
        rowStart[r2] = heapIndex(backend, source.tensor) + (n * rows + row) * cols * stride + source.channelOffset;
        pixelStride[r2] = stride;
        blockCount[r2] = cols;
      }
      for (let w = 0; w < width.dxLength; w++, dst += channels) {
        const r2 = colPhase[w];
        const col = colBlock[w];
        if (rowStart[r2] < 0 || col < 0 || col >= blockCount[r2]) {
          heap.fill(0, dst, dst + channels);
          continue;
        }
        const from = rowStart[r2] + col * pixelStride[r2];
        if (longRuns) heap.copyWithin(dst, from, from + channels);
        else for (let c = 0; c < channels; c++) heap[dst + c] = heap[from + c];
      }
    }
  }
  return out;
}

/** dx of conv2dTranspose / Conv2DBackpropInput on XNNPACK; null where the original kernel must run. */
export function subPixelConv2DBackpropInput(
  backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, attrs: Conv2DBackpropInputAttrs,
): TensorInfo | null {
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const plan = planSubPixelTransposedConv(dy.shape, filter.shape as [number, number, number, number], attrs);
  if (plan == null) return null;
  const phases = plan.strategy === 'per-phase' ? perPhaseConvs(backend, dy, filter, plan) : stackedConv(backend, dy, filter, plan);
  const dx = interleave(backend, phases, plan);
  disposeIntermediates(backend, ...new Set(phases.sources.flat().flatMap((source) => (source == null ? [] : [source.tensor]))));
  return dx;
}

"""The GLO step of `glo train` in PyTorch, as the reference `npm run bench` compares against.

What a PyTorch user would write for the same step: DCGAN generator (ngf, BatchNorm momentum 0.1, eps 1e-5,
ReLU, tanh), Lap1 on two Laplacian pyramids (5-tap binomial, reflect padding, zero-insertion EXPAND, per-level
means weighted 4^-j, finest first) plus L2, one backward pass for the generator and the batch's codes, SGD lr 1
(generator) and lr 10 (codes, rows of a latent table), projection to the unit ball, and the batch's targets
made from uint8 pixels each step. It is a benchmark reference only, never a dependency of glo.

    python3 training/bench/pytorch-step.py --size 32 --batch 64 --steps 10 [--threads 1] [--channels 3]

Prints one JSON line: {"imagesPerSecond", "secondsPerStep", "torch", "blas", "threads", ...}.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def generator(size: int, latent_dim: int, ngf: int, channels: int) -> nn.Sequential:
    upsamplings = size.bit_length() - 1 - 2
    widths = [ngf * 2 ** (upsamplings - 1 - i) for i in range(upsamplings)]
    layers: list[nn.Module] = [nn.Unflatten(1, (latent_dim, 1, 1))]
    cin = latent_dim
    for i, w in enumerate(widths):
        layers += [nn.ConvTranspose2d(cin, w, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                   nn.BatchNorm2d(w, momentum=0.1, eps=1e-5), nn.ReLU(True)]
        cin = w
    layers += [nn.ConvTranspose2d(cin, channels, 4, 2, 1, bias=False), nn.Tanh()]
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1, 0.02)
            nn.init.zeros_(m.bias)
    return net


class LapLoss(nn.Module):
    def __init__(self, levels: int, weights: list[float]):
        super().__init__()
        taps = torch.tensor([1., 4., 6., 4., 1.]) / 16
        self.register_buffer('kernel', torch.outer(taps, taps)[None, None])
        self.levels = levels
        self.weights = weights

    def blur(self, x: torch.Tensor, stride: int) -> torch.Tensor:
        n, c, h, w = x.shape
        planes = F.pad(x.reshape(n * c, 1, h, w), (2, 2, 2, 2), mode='reflect')
        out = F.conv2d(planes, self.kernel, stride=stride)
        return out.reshape(n, c, out.shape[2], out.shape[3])

    def expand(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        up = torch.zeros(n, c, 2 * h, 2 * w, dtype=x.dtype)
        up[:, :, ::2, ::2] = x
        return 4 * self.blur(up, 1)

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for _ in range(self.levels - 1):
            down = self.blur(x, 2)
            out.append(x - self.expand(down))
            x = down
        out.append(x)
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        pa, pb = self.pyramid(a), self.pyramid(b)
        return sum(w * (x - y).abs().mean() for w, x, y in zip(self.weights, pa, pb))


def blas() -> str:
    """Which BLAS library the process actually mapped (Debian's torch uses whatever libblas.so.3 is)."""
    torch.mm(torch.randn(64, 64), torch.randn(64, 64))
    with open('/proc/self/maps') as maps:
        libs = {line.split()[-1].rsplit('/', 1)[-1] for line in maps if 'blas' in line}
    if any('openblas' in lib for lib in libs):
        return 'OpenBLAS (' + ', '.join(sorted(libs)) + ')'
    return ('reference BLAS (' + ', '.join(sorted(libs)) + '): about 10x slower; install libopenblas0-pthread') if libs else 'none mapped'


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--channels', type=int, default=3)
    p.add_argument('--latent-dim', type=int, default=100)
    p.add_argument('--ngf', type=int, default=64)
    p.add_argument('--levels', type=int, default=4)
    p.add_argument('--images', type=int, default=1024)
    args = p.parse_args()
    # One torch thread: OpenBLAS's own pthreads already use the cores, and more oversubscribe them.
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    net = generator(args.size, args.latent_dim, args.ngf, args.channels)
    loss_fn = LapLoss(args.levels, [4.0 ** -j for j in range(args.levels)])
    optimizer = torch.optim.SGD(net.parameters(), lr=1.0)
    pixels = torch.randint(0, 256, (args.images, args.channels, args.size, args.size), dtype=torch.uint8)
    table = torch.randn(args.images, args.latent_dim)
    table /= table.norm(dim=1, keepdim=True).clamp(min=1)

    def step(rows: torch.Tensor) -> float:
        targets = pixels[rows].float() / 127.5 - 1
        z = table[rows].clone().requires_grad_(True)
        optimizer.zero_grad(set_to_none=True)
        out = net(z)
        loss = loss_fn(out, targets) + F.mse_loss(out, targets)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            updated = table[rows] - 10.0 * z.grad
            table[rows] = updated / updated.norm(dim=1, keepdim=True).clamp(min=1)
        return loss.item()

    order = torch.randperm(args.images)
    batches = [order[(i * args.batch) % (args.images - args.batch + 1):][:args.batch] for i in range(args.steps + 2)]
    for rows in batches[:2]:
        step(rows)  # warm-up: oneDNN primitive creation, allocator
    start = time.perf_counter()
    for rows in batches[2:]:
        step(rows)
    seconds = (time.perf_counter() - start) / args.steps
    print(json.dumps({
        'imagesPerSecond': args.batch / seconds, 'secondsPerStep': seconds, 'torch': torch.__version__,
        'blas': blas(), 'threads': torch.get_num_threads(), 'imageSize': args.size, 'batchSize': args.batch,
    }))


if __name__ == '__main__':
    main()

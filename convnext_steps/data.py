"""Images that need no download, and the paper's image pipeline: the synthetic shapes set (`SyntheticShapes`)
and `build_transform` (timm's `create_transform`, as the official ConvNeXt repo uses it, in transforms.v2).

Below the trainer, so that the figures and the notebooks draw the same images the trainer learns from without
importing it.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "SHAPE_CLASSES", "SyntheticShapes", "build_transform"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

CACHE_BYTES = 64 * 2**20  # SyntheticShapes keeps its images when they fit in this many bytes

SHAPE_CLASSES = (
    "disk",
    "square",
    "triangle",
    "ring",
    "cross",
    "horizontal_stripes",
    "vertical_stripes",
    "diagonal_stripes",
    "checkerboard",
    "dots",
)


class SyntheticShapes(Dataset):
    """A deterministic, learnable 10-class image set drawn in memory: 5 shapes and 5 textures.

    Sample `i` has class `i % 10` (balanced) and is drawn from its own generator seeded by (seed, split, i):
    random position, size, frequency and phase, random foreground and background colours, pixel noise.
    Images are uint8 `tv_tensors.Image`s of shape (3, image_size, image_size).
    """

    classes = SHAPE_CLASSES

    def __init__(
        self, num_samples: int, image_size: int = 32, seed: int = 0, split: str = "train", noise: float = 0.08
    ):
        if num_samples < 1:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
        if image_size < 8:
            raise ValueError(f"image_size must be at least 8, got {image_size}")
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        self.num_samples, self.image_size, self.seed, self.split = num_samples, image_size, seed, split
        self.noise = noise
        self.targets = [i % len(self.classes) for i in range(num_samples)]
        # Small sets keep each image once drawn (drawing costs as much as augmenting); big ones redraw.
        self._cache = {} if num_samples * 3 * image_size**2 <= CACHE_BYTES else None

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int):
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index {index} out of range for {self.num_samples} samples")
        label = self.targets[index]
        image = self._cache.get(index) if self._cache is not None else None
        if image is None:
            # The val split gets other seeds than the train split, so no image is in both.
            g = torch.Generator().manual_seed((self.seed * 2 + (self.split == "val")) * 1_000_003 + index)
            image = tv_tensors.Image(_draw(label, self.image_size, g, self.noise))
            if self._cache is not None:
                self._cache[index] = image
        return image, label


def _draw(label: int, size: int, g: torch.Generator, noise: float) -> torch.Tensor:
    u = torch.rand(7, generator=g).tolist()  # all scalar draws at once: geometry, frequency, phase, diagonal
    cx, cy, r = -0.35 + 0.7 * u[0], -0.35 + 0.7 * u[1], 0.3 + 0.25 * u[2]
    freq, phase = (2.5 + 2.5 * u[3]) * math.pi, 2 * math.pi * u[4]
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]
    y, x = coords[:, None], coords[None, :]  # broadcast to (size, size)
    dx, dy = x - cx, y - cy
    name = SHAPE_CLASSES[label]
    if name == "disk":
        mask = dx**2 + dy**2 < r**2
    elif name == "square":
        mask = torch.maximum(dx.abs(), dy.abs()) < 0.8 * r
    elif name == "triangle":  # apex up, base down
        mask = (dy < 0.8 * r) & (dx.abs() < 0.6 * (dy + r))
    elif name == "ring":
        mask = ((dx**2 + dy**2).sqrt() - 0.75 * r).abs() < 0.22 * r
    elif name == "cross":
        mask = ((dx.abs() < 0.25 * r) & (dy.abs() < r)) | ((dy.abs() < 0.25 * r) & (dx.abs() < r))
    elif name == "horizontal_stripes":
        mask = torch.sin(y * freq + phase) > 0
    elif name == "vertical_stripes":
        mask = torch.sin(x * freq + phase) > 0
    elif name == "diagonal_stripes":  # either diagonal, so a horizontal flip keeps the class
        sign = 1.0 if u[5] < 0.5 else -1.0
        mask = torch.sin((x + sign * y) * freq / math.sqrt(2) + phase) > 0
    elif name == "checkerboard":
        mask = torch.sin(x * freq + phase) * torch.sin(y * freq + phase) > 0
    else:  # dots on a grid
        mask = torch.cos(x * freq + phase) + torch.cos(y * freq + phase) > 1.2
    mask = mask.expand(size, size)
    colours = torch.rand(8, 3, generator=g)  # foreground, then background candidates
    foreground = colours[0]
    far = ((colours[1:] - foreground).abs().mean(dim=1) >= 0.3).nonzero()
    background = colours[1 + far[0, 0]] if len(far) else 1 - foreground  # keep the pattern visible
    image = torch.where(mask, foreground[:, None, None], background[:, None, None])
    image = image + noise * torch.randn(image.shape, generator=g)
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


def build_transform(
    train: bool,
    image_size: int,
    randaug_ops: int = 2,
    randaug_magnitude: int = 9,
    reprob: float = 0.25,
    crop_pct: float = 0.875,
    crop_scale: float = 0.08,
) -> v2.Compose:
    """The paper's pipeline (timm's `create_transform`, as in the official ConvNeXt repo), in transforms.v2.

    Train: random-resized crop (bicubic; `crop_scale` to all of the image's area) + horizontal flip + RandAugment
    + normalise + random erasing (per-pixel random values, timm's 'pixel' mode). Eval: resize to
    image_size / crop_pct, centre crop.
    Takes PIL images or uint8 tensors; returns normalised float tensors.
    """
    bicubic = v2.InterpolationMode.BICUBIC
    ops: list = [v2.ToImage()]
    if train:
        ops += [
            v2.RandomResizedCrop(image_size, scale=(crop_scale, 1.0), interpolation=bicubic, antialias=True),
            v2.RandomHorizontalFlip(),
        ]
        if randaug_ops > 0:
            ops.append(
                v2.RandAugment(
                    num_ops=randaug_ops, magnitude=randaug_magnitude, interpolation=v2.InterpolationMode.BILINEAR
                )
            )
    else:
        ops += [
            v2.Resize(round(image_size / crop_pct), interpolation=bicubic, antialias=True),
            v2.CenterCrop(image_size),
        ]
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if train and reprob > 0:
        ops.append(v2.RandomErasing(p=reprob, value="random"))
    return v2.Compose(ops)

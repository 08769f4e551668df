"""Data for training: a synthetic shapes set that needs no download, ImageFolder, Imagenette, the paper's
augmentation built from torchvision's own transforms.v2 pieces, and the loaders that feed the engine.

Augmentation randomness is drawn per sample from a seed made of (run seed, epoch, sample index), never
from a worker's or rank's random stream: a sample looks the same whichever process or worker loads it,
so a run resumed mid-epoch, a run with another `--workers`, and a 2-process run all see the same images.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler
from torchvision import tv_tensors
from torchvision.transforms import v2

from .datacheck import class_difference, load_image

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SHAPE_CLASSES",
    "SyntheticShapes",
    "build_transform",
    "build_datasets",
    "Augmented",
    "EpochSampler",
    "EvalSampler",
    "sample_seed",
    "batch_mix",
    "build_loaders",
    "default_workers",
]

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


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one sample's augmentation in one epoch (independent of rank, worker and resume point)."""
    return ((seed * 1_000_003 + epoch) * 10_000_019 + index) % (2**63)


class Augmented(Dataset):
    """`dataset` with `transform` applied; indexed by (index, seed) pairs that `EpochSampler` yields.

    The transform draws from torch's CPU generator seeded with the pair's seed, inside `fork_rng` so
    the caller's random stream (mixup, drop path in the main process) is left exactly as it was.
    """

    def __init__(self, dataset: Dataset, transform: Callable):
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        index, seed = key
        image, label = self.dataset[index]
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)  # CPU only: leaves CUDA's generator alone
            image = self.transform(image)
        return image, label


class EpochSampler(Sampler):
    """DistributedSampler's shuffle and split, as (index, augmentation seed) pairs, optionally skipping
    the first `skip` samples of this rank's share (to resume mid-epoch)."""

    def __init__(self, num_samples: int, num_replicas: int, rank: int, seed: int):
        self.inner = DistributedSampler(
            range(num_samples), num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.seed, self.epoch, self.skip = seed, 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip
        self.inner.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices = list(self.inner)[self.skip :]
        return iter([(i, sample_seed(self.seed, self.epoch, i)) for i in indices])

    def __len__(self) -> int:
        return len(self.inner) - self.skip


class EvalSampler(Sampler):
    """Every `num_replicas`-th sample from `rank` (no padding, so summed metrics count each sample once)."""

    def __init__(self, num_samples: int, num_replicas: int = 1, rank: int = 0):
        self.indices = list(range(rank, num_samples, num_replicas))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(i, 0) for i in self.indices])

    def __len__(self) -> int:
        return len(self.indices)


def build_datasets(
    data: str,
    image_size: int,
    *,
    seed: int = 0,
    synthetic_sizes: Sequence[int] = (2000, 500),
    data_root: str = "data",
    imagenette_size: str = "320px",
) -> tuple[Dataset, Dataset, list[str]]:
    """(train set, val set, class names) for `data`: 'synthetic', 'imagenette', or an ImageFolder directory.

    Items are (PIL image or uint8 tensor, int label); transforms are applied by `Augmented`.
    """
    if data == "synthetic":
        n_train, n_val = synthetic_sizes
        return (
            SyntheticShapes(n_train, image_size, seed, "train"),
            SyntheticShapes(n_val, image_size, seed, "val"),
            list(SHAPE_CLASSES),
        )
    if data == "imagenette":
        return _imagenette(data_root, imagenette_size)
    return _image_folder(data)


def _image_folder(root: str):
    from torchvision.datasets import ImageFolder

    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"--data {root!r} is not 'synthetic', 'imagenette' or a directory; expected a folder in ImageFolder "
            f"layout: {root}/train/<class>/*.jpg and {root}/val/<class>/*.jpg"
        )
    splits = {}
    for split in ("train", "val"):
        path = os.path.join(root, split)
        if not os.path.isdir(path):
            raise FileNotFoundError(
                f"{path} not found: --data expects ImageFolder layout {root}/{{train,val}}/<class>/"
            )
        try:
            splits[split] = ImageFolder(path, loader=load_image)  # its errors name the file
        except FileNotFoundError as e:  # no class folders or no images in them
            raise FileNotFoundError(f"{path}: {e}") from e
        except OSError as e:  # e.g. a folder this user may not read
            raise ValueError(f"--data {root}: cannot read {e.filename or path} ({e.strerror or e})") from e
    if splits["train"].classes != splits["val"].classes:
        raise ValueError(
            f"{root}: train and val have different class folders: "
            + class_difference(splits["train"].classes, splits["val"].classes)
        )
    return splits["train"], splits["val"], splits["train"].classes


def _imagenette(root: str, size: str):
    import urllib.error

    from torchvision.datasets import Imagenette

    if size not in Imagenette._ARCHIVES:
        raise ValueError(f"unknown Imagenette size {size!r}; valid sizes: {', '.join(Imagenette._ARCHIVES)}")
    try:
        train = Imagenette(root, split="train", size=size, download=True)
        val = Imagenette(root, split="val", size=size, download=True)
    except (urllib.error.URLError, OSError) as e:
        raise ConnectionError(
            f"could not download Imagenette ({size}) into {os.path.abspath(root)}: {e}. Without internet access, "
            f"fetch {Imagenette._ARCHIVES[size][0]} "
            f"elsewhere, unpack it under {root}/ (or anywhere, then pass --data <unpacked folder>: it is in "
            f"ImageFolder layout), or use --data synthetic."
        ) from e
    # Imagenette's classes are WordNet ids with several names each; keep the first name.
    return train, val, [names[0] for names in train.classes]


def batch_mix(mixup: float, cutmix: float, num_classes: int):
    """transforms.v2 MixUp / CutMix on a batch, one of the two chosen per batch (timm's switch prob 0.5)."""
    mixes = [v2.MixUp(alpha=mixup, num_classes=num_classes)] if mixup > 0 else []
    mixes += [v2.CutMix(alpha=cutmix, num_classes=num_classes)] if cutmix > 0 else []
    if not mixes:
        return None
    return mixes[0] if len(mixes) == 1 else v2.RandomChoice(mixes)


def default_workers() -> int:
    """Loader processes per rank: the cores this process may use, shared by this node's ranks, at most 8.

    Never above len(sched_getaffinity), the count above which torch's DataLoader warns.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    ranks_here = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, min(8, cores // ranks_here))


def build_loaders(
    recipe,
    world_size: int = 1,
    rank: int = 0,
    workers: int | None = None,
    pin_memory: bool = False,
    training: bool = True,
):
    """(train loader, val loader, class names) for a `Recipe`: each sample augmented from its own seed.
    `training=False` (evaluation only) allows a training set too small for one optimizer step."""
    from torch.utils.data import DataLoader

    train_set, val_set, classes = build_datasets(
        recipe.data,
        recipe.image_size,
        seed=recipe.seed,
        data_root=recipe.data_root,
        synthetic_sizes=(recipe.synthetic_train, recipe.synthetic_val),
        imagenette_size=recipe.imagenette_size,
    )
    train_tf = build_transform(
        True,
        recipe.image_size,
        recipe.randaug_ops,
        recipe.randaug_magnitude,
        recipe.reprob,
        crop_scale=recipe.crop_scale,
    )
    val_tf = build_transform(False, recipe.image_size, crop_pct=recipe.crop_pct)
    sampler = EpochSampler(len(train_set), world_size, rank, recipe.seed)
    batches = len(sampler) // recipe.batch_size
    if training and batches < recipe.accum_steps:
        raise ValueError(
            f"{len(train_set)} training images make {batches} batches of {recipe.batch_size} per "
            f"process, fewer than --accum-steps {recipe.accum_steps}: lower --batch-size or add data"
        )
    workers = default_workers() if workers is None else workers
    common = {
        "batch_size": recipe.batch_size,
        "num_workers": workers,
        "pin_memory": pin_memory,
        "persistent_workers": workers > 0,
        "generator": torch.Generator(),
    }  # own generator: the loader never draws from the global stream
    train_loader = DataLoader(Augmented(train_set, train_tf), sampler=sampler, drop_last=True, **common)
    val_loader = DataLoader(Augmented(val_set, val_tf), sampler=EvalSampler(len(val_set), world_size, rank), **common)
    return train_loader, val_loader, classes

"""Data for training: the synthetic shapes set, ImageFolder or Imagenette, each through the paper's augmentation
(`convnext_steps.data`), and the samplers and loaders that feed the engine.

Augmentation randomness is drawn per sample from a seed made of (run seed, epoch, sample index), never
from a worker's or rank's random stream: a sample looks the same whichever process or worker loads it,
so a run resumed mid-epoch, a run with another `--workers`, and a 2-process run all see the same images.
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler
from torchvision import datasets
from torchvision.transforms import v2

from ..data import IMAGENET_MEAN, IMAGENET_STD, SHAPE_CLASSES, SyntheticShapes, build_transform
from .datacheck import class_difference, default_workers, load_image

# IMAGENET_*, SHAPE_CLASSES, SyntheticShapes and build_transform live in `convnext_steps.data`; the trainer's
# users (notebooks 15 and 17, docs/training.md) find them here too.
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
            splits[split] = datasets.ImageFolder(path, loader=load_image)  # its errors name the file
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
    if size not in datasets.Imagenette._ARCHIVES:
        raise ValueError(f"unknown Imagenette size {size!r}; valid sizes: {', '.join(datasets.Imagenette._ARCHIVES)}")
    try:
        train = datasets.Imagenette(root, split="train", size=size, download=True)
        val = datasets.Imagenette(root, split="val", size=size, download=True)
    except (urllib.error.URLError, OSError) as e:
        raise ConnectionError(
            f"could not download Imagenette ({size}) into {os.path.abspath(root)}: {e}. Without internet access, "
            f"fetch {datasets.Imagenette._ARCHIVES[size][0]} "
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

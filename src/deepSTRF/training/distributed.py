"""Data-parallel training with ``torch.distributed``: one code path for one or many processes.

Launch a training script with ``torchrun --nproc_per_node K script.py``; torchrun
sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``, and :func:`init_distributed`
joins the process group (``gloo`` on CPU, ``nccl`` on GPU). Run without torchrun,
the same code sees a world of one process and never touches the process group.

- :class:`DistContext` tells each process its rank, the world size and its device;
- :func:`train_sampler` shards and shuffles a training set so that the union of the
  ranks' batches is the batch a single process would draw with the same seed;
- :func:`shard_indices` splits an evaluation set without repeating any item, and
  :func:`all_gather_padded` reassembles per-rank results of different sizes;
- :func:`all_reduce_sum` and :func:`barrier` are no-ops in a single process.

BatchNorm statistics are computed per process during data-parallel training (as
``DistributedDataParallel`` does by default); running statistics are broadcast from
rank 0.

Example:
    >>> ctx = init_distributed("cpu")
    >>> (ctx.rank, ctx.world_size, ctx.is_main)
    (0, 1, True)
    >>> shard_indices(5, ctx)
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

import os
from collections.abc import Sized
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from deepSTRF._validation import check_device
from deepSTRF.datasets import neural_collate
from deepSTRF.training.seeding import seed_worker

__all__ = [
    "DistContext",
    "all_gather_padded",
    "all_reduce_sum",
    "barrier",
    "init_distributed",
    "make_loader",
    "shard_indices",
    "train_sampler",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly single-process) data-parallel run.

    Attributes:
        rank: Global rank of this process.
        world_size: Number of processes.
        local_rank: Rank on this machine (selects the GPU).
        device: Device this process computes on.

    Example:
        >>> DistContext(rank=1, world_size=2, local_rank=1, device=torch.device("cpu")).is_main
        False
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that writes files and prints."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as err:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from err


def init_distributed(device: str | torch.device | None = None) -> DistContext:
    """Join the process group started by ``torchrun`` (if any) and pick this process's device.

    Without torchrun (``WORLD_SIZE`` unset or 1) nothing is initialised. If the
    default process group already exists, it is used as is.

    Args:
        device: ``'cpu'``, ``'cuda'`` (each process takes GPU ``LOCAL_RANK``), an explicit
            device, or ``None`` for ``'cuda'`` when available and ``'cpu'`` otherwise.

    Returns:
        The :class:`DistContext` of this process.

    Raises:
        ValueError: If CUDA is requested but not available.

    Example:
        >>> init_distributed("cpu").device
        device(type='cpu')
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = check_device("device", device)
    if dist.is_available() and dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    else:
        rank, world_size = _env_int("RANK", 0), _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", rank)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def barrier(ctx: DistContext) -> None:
    """Wait for every process (no-op in a single process).

    Example:
        >>> barrier(init_distributed("cpu"))
    """
    if ctx.is_distributed:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum a tensor over all processes; returns a new tensor (the input is untouched).

    Example:
        >>> all_reduce_sum(torch.tensor([1.0, 2.0]), init_distributed("cpu"))
        tensor([1., 2.])
    """
    out = tensor.clone()
    if ctx.is_distributed:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_gather_padded(tensor: torch.Tensor, ctx: DistContext, *, fill: float = float("nan")) -> torch.Tensor:
    """Concatenate every process's tensor along axis 0; the other axes may differ between processes.

    Each tensor is padded with ``fill`` to the largest size along every axis ≥ 1 and
    the results are concatenated in rank order, without the rows added only to make
    the all-gather possible.

    Args:
        tensor: This process's tensor (same number of dimensions and dtype on every rank).
        ctx: The distributed context.
        fill: Value used for padding along axes ≥ 1.

    Returns:
        The concatenation over ranks.

    Example:
        >>> all_gather_padded(torch.ones(2, 3), init_distributed("cpu")).shape
        torch.Size([2, 3])
    """
    if not ctx.is_distributed:
        return tensor
    shape = torch.tensor(tensor.shape, dtype=torch.long, device=tensor.device)
    shapes = [torch.empty_like(shape) for _ in range(ctx.world_size)]
    dist.all_gather(shapes, shape)
    sizes = torch.stack(shapes).cpu()
    target = sizes.amax(0).tolist()
    padded = torch.full(target, fill, dtype=tensor.dtype, device=tensor.device)
    padded[tuple(slice(0, s) for s in tensor.shape)] = tensor
    parts = [torch.empty_like(padded) for _ in range(ctx.world_size)]
    dist.all_gather(parts, padded)
    return torch.cat([part[: int(n)] for part, n in zip(parts, sizes[:, 0])])


def shard_indices(n_items: int, ctx: DistContext) -> list[int]:
    """The items ``rank, rank + world_size, ...`` of ``range(n_items)``: every item on exactly one rank.

    Example:
        >>> shard_indices(3, init_distributed("cpu"))
        [0, 1, 2]
    """
    return list(range(ctx.rank, n_items, ctx.world_size))


def train_sampler(dataset: Sized, ctx: DistContext, *, shuffle: bool, seed: int) -> DistributedSampler:
    """A sampler that shuffles by ``(seed, epoch)`` and gives rank ``r`` the items ``r::world_size``.

    With a per-rank batch of ``b``, batch ``k`` of all ranks together holds the same
    items as batch ``k`` of a single process with batch ``b * world_size``. Call
    ``sampler.set_epoch(epoch)`` before each epoch. When ``len(dataset)`` is not a
    multiple of ``world_size`` a few items are repeated to even out the shards.

    Args:
        dataset: The training set (anything with a length).
        ctx: The distributed context.
        shuffle: Shuffle each epoch.
        seed: Seed of the shuffling.

    Returns:
        A ``torch.utils.data.DistributedSampler``.

    Example:
        >>> sampler = train_sampler(range(6), init_distributed("cpu"), shuffle=False, seed=0)
        >>> list(sampler)
        [0, 1, 2, 3, 4, 5]
    """
    return DistributedSampler(
        dataset,  # type: ignore[arg-type]
        num_replicas=ctx.world_size,
        rank=ctx.rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=False,
    )


def make_loader(
    data: Dataset | DataLoader, ctx: DistContext, *, batch_size: int, train: bool, seed: int, num_workers: int = 0
) -> DataLoader:
    """Batches of :func:`~deepSTRF.datasets.neural_collate` for this process.

    Training sets are shuffled by :func:`train_sampler` (``batch_size // world_size``
    stimuli per process and step); evaluation sets are shared out by
    :func:`shard_indices`, in order. A ``DataLoader`` is returned unchanged.

    Args:
        data: A dataset of :class:`~deepSTRF.datasets.NeuralDataset` items, or a ``DataLoader``.
        ctx: The distributed context.
        batch_size: Stimuli per step over all processes.
        train: Training (shuffled, sharded with repeats) or evaluation (ordered, no repeats).
        seed: Seed of the shuffling.
        num_workers: Worker processes of the loader.

    Returns:
        The loader.

    Raises:
        TypeError: If ``data`` is neither a dataset nor a loader.
        ValueError: If an evaluation set has fewer stimuli than processes.

    Example:
        >>> make_loader(range(4), init_distributed("cpu"), batch_size=2, train=True, seed=0)
        Traceback (most recent call last):
        ...
        TypeError: data must be a Dataset or a DataLoader, got range
    """
    if isinstance(data, DataLoader):
        return data
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a Dataset or a DataLoader, got {type(data).__name__}")
    per_rank = batch_size // ctx.world_size
    common: dict[str, Any] = {"collate_fn": neural_collate, "num_workers": num_workers}
    if train:
        sampler = train_sampler(data, ctx, shuffle=True, seed=seed)  # type: ignore[arg-type]
        return DataLoader(data, batch_size=per_rank, sampler=sampler, worker_init_fn=seed_worker, **common)
    n_items = len(data)  # type: ignore[arg-type]
    if n_items < ctx.world_size:
        raise ValueError(f"an evaluation split needs at least one stimulus per process, got {n_items}")
    return DataLoader(Subset(data, shard_indices(n_items, ctx)), batch_size=per_rank, **common)

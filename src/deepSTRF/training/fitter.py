"""Gradient-descent fitting of encoding models: :class:`Fitter`.

The loop trains on batches of :func:`~deepSTRF.datasets.neural_collate`, scores the
whole validation split after each epoch (one metric call on all its stimuli, not an
average of batch scores), stops early when the score stalls, and ends with the
weights of the best epoch. It can keep each neuron's best readout, clip gradients,
step a learning-rate schedule, run in mixed precision on CUDA, and stops with
:class:`NonFiniteLossError` when the loss or gradient becomes NaN/Inf.

With ``checkpoint_dir`` the complete training state is written after every epoch
(atomically, tensors and plain values only), and a new :class:`Fitter` with the
same folder resumes from it: a fit killed at any point and resumed ends with the
same weights as an uninterrupted one. Launched with ``torchrun``, the same code
trains with ``DistributedDataParallel`` (see :mod:`deepSTRF.training.distributed`).

Example:
    >>> import torch
    >>> from deepSTRF.datasets import SimulatedDataset
    >>> from deepSTRF.models.audio import Linear
    >>> data = SimulatedDataset(n_neurons=2, n_stimuli=6, seed=0)
    >>> model = Linear(n_frequency_bands=data.F, temporal_window_size=5, out_neurons=2)
    >>> fitter = Fitter(model, FitConfig(max_epochs=2, batch_size=2), progress=False)
    >>> result = fitter.fit(data.subset(stimuli=[0, 1, 2, 3]), data.subset(stimuli=[4, 5]))
    >>> sorted(fitter.evaluate(data.subset(stimuli=[4, 5]), metrics=("cc",)))
    ['cc']
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm import tqdm

from deepSTRF.datasets import neural_collate
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.training.checkpoint import STATE_FORMAT, EarlyStopping, load_state, save_state
from deepSTRF.training.config import FitConfig
from deepSTRF.training.distributed import all_gather_padded, all_reduce_sum, barrier, init_distributed, shard_indices
from deepSTRF.training.distributed import train_sampler as make_train_sampler
from deepSTRF.training.loggers import TrainingLogger
from deepSTRF.training.objectives import batch_target, pad_cat, score_split, summed_loss
from deepSTRF.training.seeding import get_rng_state, seed_everything, seed_worker, set_rng_state

__all__ = ["FitResult", "Fitter", "NonFiniteLossError"]

STATE_FILE = "training_state.pt"


class NonFiniteLossError(FloatingPointError):
    """The training loss or gradient norm became NaN or infinite."""


@dataclass
class FitResult:
    """Summary of a :meth:`Fitter.fit` call.

    Attributes:
        best_epoch: Epoch whose weights the model holds (-1 if no epoch ever scored).
        best_score: Its validation score (its training loss without validation data).
        epochs_run: Number of completed epochs.
        stopped_early: Whether early stopping ended the fit.
        history: One dict per epoch: ``epoch``, ``train_loss``, ``lr`` and ``val_<metric>``.
        neuron_scores: ``(N,)`` validation scores of each neuron with the final weights'
            epoch (its own best epoch with ``per_neuron_best``), or ``None``.
    """

    best_epoch: int
    best_score: float
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)
    neuron_scores: torch.Tensor | None = None


def _floating_dtype(model: nn.Module) -> torch.dtype:
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


def _clone_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in module.state_dict().items()}


class Fitter:
    """Train a model with early stopping, best-checkpoint restore and resumable state.

    Args:
        model: The model, e.g. a :class:`~deepSTRF.models.neural_model.NeuralModel`, mapping
            ``(B, 1, F, T)`` stimuli to ``(B, N, 1, T)`` predictions. It is moved to ``device``.
        config: Hyperparameters; :class:`~deepSTRF.training.config.FitConfig` defaults when ``None``.
        device: ``'cpu'``, ``'cuda'``, a device, or ``None`` (CUDA when available). Under
            ``torchrun`` each process takes GPU ``LOCAL_RANK``.
        checkpoint_dir: Folder of the per-epoch training state (``training_state.pt``);
            ``None`` keeps nothing on disk.
        resume: Continue from the training state in ``checkpoint_dir`` if there is one.
        logger: Receives the configuration and per-epoch scalars (not closed by the fitter).
        progress: Show a progress bar (rank 0 only).

    Raises:
        TypeError: If ``model`` is not an ``nn.Module`` or ``config`` not a ``FitConfig``.
        ValueError: If ``per_neuron_best`` is set and a readout tensor's first axis is not
            the neuron axis, or ``batch_size`` is not a multiple of the number of processes.
    """

    def __init__(
        self,
        model: nn.Module,
        config: FitConfig | None = None,
        *,
        device: str | torch.device | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = True,
        logger: TrainingLogger | None = None,
        progress: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be an nn.Module, got {type(model).__name__}")
        config = FitConfig() if config is None else config
        if not isinstance(config, FitConfig):
            raise TypeError(f"`config` must be a FitConfig or None, got {type(config).__name__}")
        self.config = config
        self.ctx = init_distributed(device)
        if config.batch_size % self.ctx.world_size:
            raise ValueError(
                f"`batch_size` ({config.batch_size}) must be a multiple of the number of processes "
                f"({self.ctx.world_size})"
            )
        self.device = self.ctx.device
        self.model = model.to(self.device)
        self.dtype = _floating_dtype(model)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.resume, self.logger, self.progress = resume, logger, progress
        self.amp = config.amp and self.device.type == "cuda"
        if config.amp and not self.amp:
            warnings.warn(f"`amp` only acts on CUDA; training in full precision on {self.device}", stacklevel=2)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.optimizer = self._make_optimizer()
        self.scheduler = self._make_scheduler()
        self._readout_keys = self._neuron_axis_keys() if config.per_neuron_best else []
        self._net: nn.Module = model
        if self.ctx.is_distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self._net = DistributedDataParallel(model, device_ids=ids)
        self.history: list[dict[str, float]] = []
        self.stopper = EarlyStopping(config.patience, "min" if config.metric == "loss" else "max", config.min_delta)
        self._best: dict[str, torch.Tensor] | None = None
        self._neuron_scores: torch.Tensor | None = None
        self._neuron_readout: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ construction helpers
    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg, params = self.config, [p for p in self.model.parameters() if p.requires_grad]
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)

    def _make_scheduler(self) -> Any:
        cfg = self.config
        if cfg.scheduler == "plateau":
            wait = max(1, (cfg.patience or 3) // 3)
            mode = "min" if cfg.metric == "loss" else "max"
            return torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, mode=mode, factor=0.5, patience=wait)
        if cfg.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=cfg.max_epochs)
        return None

    def _neuron_axis_keys(self) -> list[str]:
        if not isinstance(self.model, NeuralModel) or self.model.readout is None:
            raise ValueError("`per_neuron_best` needs a NeuralModel with a readout")
        keys = []
        for key, value in self.model.readout.state_dict().items():
            if not value.is_floating_point():
                continue
            if value.dim() == 0 or value.shape[0] != self.model.O:
                raise ValueError(
                    f"`per_neuron_best` needs readout tensors whose first axis is the neuron axis "
                    f"(N = {self.model.O}); readout.{key} has shape {tuple(value.shape)}"
                )
            keys.append(f"readout.{key}")
        return keys

    def _loader(self, data: Dataset | DataLoader, *, train: bool) -> DataLoader:
        if isinstance(data, DataLoader):
            return data
        if not isinstance(data, Dataset):
            raise TypeError(f"data must be a Dataset or a DataLoader, got {type(data).__name__}")
        per_rank = self.config.batch_size // self.ctx.world_size
        common: dict[str, Any] = {"collate_fn": neural_collate, "num_workers": self.config.num_workers}
        if train:
            sampler = make_train_sampler(data, self.ctx, shuffle=True, seed=self.config.seed)  # type: ignore[arg-type]
            return DataLoader(data, batch_size=per_rank, sampler=sampler, worker_init_fn=seed_worker, **common)
        n_items = len(data)  # type: ignore[arg-type]
        if n_items < self.ctx.world_size:
            raise ValueError(f"an evaluation split needs at least one stimulus per process, got {n_items}")
        return DataLoader(Subset(data, shard_indices(n_items, self.ctx)), batch_size=per_rank, **common)

    # ------------------------------------------------------------------ training
    def _fail(self, epoch: int, step: int, what: str) -> None:
        restored = self._restore_best()
        where = f"non-finite {what} at epoch {epoch}, step {step}"
        if restored:
            kept = f"the model was restored to the best epoch ({self.stopper.best_epoch})"
        else:
            kept = "no epoch had completed; the model keeps its weights from before that step"
        disk = f"; the last completed epoch's state is in {self.checkpoint_dir / STATE_FILE}" if self._saves else ""
        raise NonFiniteLossError(f"{where}: {kept}{disk}")

    def _train_epoch(self, loader: DataLoader, epoch: int) -> float:
        cfg, ctx = self.config, self.ctx
        self._net.train()
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        count = torch.zeros((), dtype=torch.float64, device=self.device)
        for step, batch in enumerate(loader):
            stims = batch["stims"].to(self.device, self.dtype)
            target = batch_target(batch["responses"].to(self.device, self.dtype), cfg.target)
            with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
                pred = self._net(stims)
            loss_sum, n_valid = summed_loss(pred.to(target.dtype), target, cfg.loss)
            flags = torch.stack([n_valid.double(), (~torch.isfinite(loss_sum.detach())).double()])
            flags = all_reduce_sum(flags, ctx)
            if flags[1] > 0:
                self._fail(epoch, step, "loss")
            # sum over the global batch / its valid count: exact whatever the split over processes
            loss = loss_sum * (ctx.world_size / flags[0].clamp_min(1))
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                norm = nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                if not self.amp and not torch.isfinite(norm):
                    self._fail(epoch, step, "gradient norm")
            self.scaler.step(self.optimizer)
            self.scaler.update()
            total += loss_sum.detach().double()
            count += n_valid
        return float(all_reduce_sum(total, ctx) / all_reduce_sum(count, ctx).clamp_min(1))

    # ------------------------------------------------------------------ evaluation
    def predict(self, data: Dataset | DataLoader) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Predict a whole split, in eval mode.

        With a dataset the stimuli are shared out between processes and the results
        gathered on every process; a ``DataLoader`` is run whole by each process.

        Args:
            data: A dataset (items as in :class:`~deepSTRF.datasets.NeuralDataset`) or a
                ``DataLoader`` yielding :func:`~deepSTRF.datasets.neural_collate` batches.

        Returns:
            ``(pred, responses, mask)``: ``(S, N, 1, T)`` predictions (0 where ``mask`` is
            False), ``(S, N, R, T)`` responses (NaN where missing) and the ``(S, N, 1, T)``
            bool mask of real positions (within each stimulus and pair present), with
            ``T`` and ``R`` the largest over the split.
        """
        loader = self._loader(data, train=False)
        was_training = self.model.training
        self.model.eval()
        preds, resps, masks = [], [], []
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            for batch in loader:
                responses = batch["responses"].to(self.device, self.dtype)
                pred = self.model(batch["stims"].to(self.device, self.dtype)).to(self.dtype)
                steps = torch.arange(responses.shape[-1], device=self.device)
                inside = steps[None, :] < batch["lengths"].to(self.device)[:, None]  # (B, T)
                mask = inside[:, None, None, :] & batch["valid_mask"].to(self.device)[:, :, None, None]
                preds.append(pred.masked_fill(~mask, 0.0))
                resps.append(responses)
                masks.append(mask.to(self.dtype))
        self.model.train(was_training)
        if not preds:
            raise ValueError("the evaluation data yielded no batch")
        pred, resp, mask = pad_cat(preds, 0.0), pad_cat(resps, float("nan")), pad_cat(masks, 0.0)
        if not isinstance(data, DataLoader):
            pred = all_gather_padded(pred, self.ctx, fill=0.0)
            resp = all_gather_padded(resp, self.ctx, fill=float("nan"))
            mask = all_gather_padded(mask, self.ctx, fill=0.0)
        return pred, resp, mask > 0.5

    def evaluate(
        self, data: Dataset | DataLoader, metrics: Sequence[str] = ("ccnorm", "cc", "feve", "fve")
    ) -> dict[str, torch.Tensor]:
        """Per-neuron metrics of the model on a whole split.

        Args:
            data: See :meth:`predict`.
            metrics: Names among ``'cc'``, ``'ccnorm'``, ``'feve'``, ``'fve'`` and ``'loss'``
                (each computed once over all stimuli of the split).

        Returns:
            ``{name: (N,) tensor on CPU}``; NaN for a neuron a metric cannot score
            (e.g. normalised scores need repeated trials).

        Raises:
            ValueError: If a metric name is unknown.
        """
        pred, resp, mask = self.predict(data)
        return {name: score_split(name, pred, resp, mask, self.config.loss).cpu() for name in metrics}

    # ------------------------------------------------------------------ best weights and state files
    @property
    def _saves(self) -> bool:
        return self.checkpoint_dir is not None

    def _remember(self, scores: torch.Tensor | None) -> None:
        self._best = _clone_state(self.model)
        if not self.config.per_neuron_best:
            self._neuron_scores = scores

    def _remember_neurons(self, scores: torch.Tensor) -> None:
        """Keep the readout slices of the neurons whose score improved."""
        state = self.model.state_dict()
        if self._neuron_readout is None or self._neuron_scores is None:
            self._neuron_scores = torch.full_like(scores, -math.inf)
            self._neuron_readout = {key: state[key].detach().clone() for key in self._readout_keys}
        better = scores > self._neuron_scores if self.stopper.mode == "max" else scores < self._neuron_scores
        better &= torch.isfinite(scores)
        self._neuron_scores = torch.where(better, scores, self._neuron_scores)
        for key in self._readout_keys:
            self._neuron_readout[key][better.to(self.device)] = state[key][better.to(self.device)].detach()

    def _restore_best(self) -> bool:
        if self._best is None:
            return False
        self.model.load_state_dict(self._best)
        if self._neuron_readout is not None:
            state = self.model.state_dict()
            for key, value in self._neuron_readout.items():
                state[key].copy_(value)
        return True

    def _save(self, epoch: int, stopped: bool) -> None:
        if self._saves and self.ctx.is_main:
            assert self.checkpoint_dir is not None
            state = {
                "format": STATE_FORMAT,
                "epoch": epoch,
                "stopped": stopped,
                "config": self.config.to_dict(),
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": {} if self.scheduler is None else self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": get_rng_state(),
                "stopper": self.stopper.state_dict(),
                "history": self.history,
                "best": self._best,
                "neuron_scores": self._neuron_scores,
                "neuron_readout": self._neuron_readout,
            }
            save_state(state, self.checkpoint_dir / STATE_FILE)
        barrier(self.ctx)

    def _load(self, path: Path) -> tuple[int, bool]:
        state = load_state(path, map_location=self.device)
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not a deepSTRF training state")
        ours, theirs = self.config.to_dict(), state["config"]
        changed = sorted(k for k in ours if k != "max_epochs" and ours[k] != theirs.get(k))
        if changed:
            diff = ", ".join(f"{k}: saved {theirs.get(k)!r}, now {ours[k]!r}" for k in changed)
            raise ValueError(f"cannot resume from {path}: the configuration changed ({diff})")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.stopper.load_state_dict(state["stopper"])
        self.history = list(state["history"])
        self._best, self._neuron_scores = state["best"], state["neuron_scores"]
        self._neuron_readout = state["neuron_readout"]
        set_rng_state(state["rng"])
        return int(state["epoch"]) + 1, bool(state["stopped"])

    # ------------------------------------------------------------------ the loop
    def fit(self, train: Dataset | DataLoader, val: Dataset | DataLoader | None = None) -> FitResult:
        """Train, then load the weights of the best epoch.

        Without ``val`` there is no early stopping and the best epoch is the one with the
        lowest training loss.

        Args:
            train: Training data: a dataset (batched, shuffled by ``(seed, epoch)`` and, under
                ``torchrun``, shared out between processes) or a ``DataLoader`` of
                :func:`~deepSTRF.datasets.neural_collate` batches.
            val: Validation data, scored as a whole after each epoch with ``config.metric``.

        Returns:
            A :class:`FitResult`.

        Raises:
            NonFiniteLossError: If the loss or the gradient norm becomes NaN/Inf; the model
                then holds the weights of the best epoch so far and the state file of the
                last completed epoch is left as it was.
            ValueError: If ``per_neuron_best`` or the ``'plateau'`` scheduler is used without
                ``val``, or a saved training state does not match the configuration.
        """
        cfg = self.config
        if val is None and (cfg.per_neuron_best or cfg.scheduler == "plateau"):
            raise ValueError("`per_neuron_best` and the 'plateau' scheduler need validation data (`val`)")
        if val is None:
            self.stopper = EarlyStopping(None, "min")
        loader = self._loader(train, train=True)
        seed_everything(cfg.seed)
        start, stopped = 0, False
        state_file = None if self.checkpoint_dir is None else self.checkpoint_dir / STATE_FILE
        if state_file is not None and self.resume and state_file.is_file():
            start, stopped = self._load(state_file)
        if self.logger is not None and self.ctx.is_main:
            self.logger.log_config(cfg.to_dict())
        metric = f"val_{cfg.metric}"
        bar = tqdm(
            total=cfg.max_epochs,
            initial=min(start, cfg.max_epochs),
            desc="fit",
            unit="epoch",
            disable=not (self.progress and self.ctx.is_main),
            dynamic_ncols=True,
        )
        epoch = start
        for epoch in range(start, cfg.max_epochs):
            if stopped:
                break
            record = {"epoch": epoch, "train_loss": self._train_epoch(loader, epoch)}
            record["lr"] = float(self.optimizer.param_groups[0]["lr"])
            scores = None
            if val is None:
                score = record["train_loss"]
            else:
                pred, resp, mask = self.predict(val)
                scores = score_split(cfg.metric, pred, resp, mask, cfg.loss)
                score = float(scores.nanmean()) if bool(torch.isfinite(scores).any()) else math.nan
                record[metric] = score
            if self.stopper.update(score, epoch):
                self._remember(scores)
            if cfg.per_neuron_best and scores is not None:
                self._remember_neurons(scores)
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(score)
            elif self.scheduler is not None:
                self.scheduler.step()
            self.history.append(record)
            if self.logger is not None and self.ctx.is_main:
                values = {"train/loss": record["train_loss"], "lr": record["lr"]}
                values.update({f"val/{cfg.metric}": record[metric]} if metric in record else {})
                self.logger.log_scalars(values, step=epoch)
            bar.update(1)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
            stopped = self.stopper.should_stop
            self._save(epoch, stopped)
        bar.close()
        if self._best is None and self.history:
            warnings.warn(
                f"the validation score ({cfg.metric}) was never finite; keeping the last epoch's weights", stacklevel=2
            )
        self._restore_best()
        return FitResult(
            best_epoch=self.stopper.best_epoch,
            best_score=self.stopper.best_score if self.stopper.best_epoch >= 0 else math.nan,
            epochs_run=len(self.history),
            stopped_early=stopped,
            history=list(self.history),
            neuron_scores=None if self._neuron_scores is None else self._neuron_scores.cpu(),
        )

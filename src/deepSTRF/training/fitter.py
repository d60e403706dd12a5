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
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.training.checkpoint import STATE_FORMAT, BestWeights, EarlyStopping, load_state, save_state
from deepSTRF.training.config import FitConfig, build_optimizer, build_scheduler, metric_mode
from deepSTRF.training.data_spec import match_data_spec
from deepSTRF.training.distributed import all_gather_padded, all_reduce_sum, barrier, init_distributed, make_loader
from deepSTRF.training.loggers import TrainingLogger
from deepSTRF.training.objectives import DEFAULT_METRICS, batch_mask, batch_target, pad_cat, score_split, summed_loss
from deepSTRF.training.seeding import get_rng_state, seed_everything, set_rng_state
from deepSTRF.training.windows import WindowedDataset, auto_window

__all__ = ["FitResult", "Fitter", "NonFiniteLossError"]

STATE_FILE = "training_state.pt"


class NonFiniteLossError(FloatingPointError):
    """The training loss or gradient norm became NaN or infinite.

    Example:
        >>> issubclass(NonFiniteLossError, FloatingPointError)
        True
    """


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

    Example:
        >>> FitResult(best_epoch=3, best_score=0.8, epochs_run=10, stopped_early=True).history
        []
    """

    best_epoch: int
    best_score: float
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)
    neuron_scores: torch.Tensor | None = None


def _check_not_empty(name: str, data: object) -> None:
    """Refuse a dataset (or loader) that holds no stimulus, before any work."""
    try:
        size = len(data)  # type: ignore[arg-type]
    except TypeError:
        return  # an iterable without a length: checked when it yields no batch
    if size == 0:
        raise ValueError(f"`{name}` holds no stimulus ({type(data).__name__} of length 0): check the split or subset")


def _check_first_batch(model: nn.Module, stims: torch.Tensor, target: torch.Tensor, where: str) -> None:
    """Check a first batch's values: stimulus finite (through the model's own check), no infinite response."""
    if isinstance(model, NeuralModel):
        try:
            with model.finite_checks():
                model.check_stimulus(stims)
        except ValueError as err:
            raise ValueError(f"the first batch of `{where}`: {err}") from None
    elif not bool(torch.isfinite(stims).all()):
        raise ValueError(f"the first batch of `{where}` has NaN or inf stimulus values; clean the stimuli first")
    if bool(torch.isinf(target).any()):
        raise ValueError(
            f"the first batch of `{where}` has infinite responses; use NaN to mark missing data, never inf"
        )


def _floating_dtype(model: nn.Module) -> torch.dtype:
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


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

    Example:
        >>> from deepSTRF.datasets import SimulatedDataset
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> data = SimulatedDataset(n_neurons=2, n_stimuli=5, seed=0)
        >>> model = Linear(n_frequency_bands=data.F, temporal_window_size=5, out_neurons=2)
        >>> fitter = Fitter(model, FitConfig(max_epochs=2, patience=1), device="cpu", progress=False)
        >>> result = fitter.fit(data.subset(stimuli=[0, 1, 2]), data.subset(stimuli=[3]))
        >>> result.epochs_run, fitter.evaluate(data.subset(stimuli=[4]))["ccnorm"].shape
        (2, torch.Size([2]))
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
        self.optimizer = build_optimizer(model, config)
        self.scheduler = build_scheduler(self.optimizer, config)
        keys = BestWeights.neuron_axis_keys(model) if config.per_neuron_best else []
        mode = metric_mode(config.metric)
        self._net: nn.Module = model
        if self.ctx.is_distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self._net = DistributedDataParallel(model, device_ids=ids)
        self.history: list[dict[str, float]] = []
        self.stopper = EarlyStopping(config.patience, mode, config.min_delta)
        self.best = BestWeights(keys, mode)
        self._first_batch_checked = False

    def _loader(self, data: Dataset | DataLoader, *, train: bool) -> DataLoader:
        cfg = self.config
        return make_loader(
            data, self.ctx, batch_size=cfg.batch_size, train=train, seed=cfg.seed, num_workers=cfg.num_workers
        )

    # ------------------------------------------------------------------ training
    def _fail(self, epoch: int, step: int, what: str) -> None:
        restored = self.best.restore(self.model)
        where = f"non-finite {what} at epoch {epoch}, step {step}"
        if restored:
            kept = f"the model was restored to the best epoch ({self.stopper.best_epoch})"
        else:
            kept = "no epoch had completed; the model keeps its weights from before that step"
        disk = "" if self.checkpoint_dir is None else f"; the last completed epoch's state is in {self.checkpoint_dir}"
        raise NonFiniteLossError(f"{where}: {kept}{disk}")

    def _train_epoch(self, loader: DataLoader, epoch: int) -> float:
        cfg, ctx = self.config, self.ctx
        self._net.train()
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        count = torch.zeros((), dtype=torch.float64, device=self.device)
        steps = 0
        for step, batch in enumerate(loader):
            stims = batch["stims"].to(self.device, self.dtype)
            target = batch_target(batch["responses"].to(self.device, self.dtype), cfg.target)
            if step == 0 and not self._first_batch_checked:
                _check_first_batch(self.model, stims, target, "train")
                self._first_batch_checked = True
            steps += 1
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
        if steps == 0:
            raise ValueError("the training data yielded no batch: `train` holds no stimulus")
        count = all_reduce_sum(count, ctx)
        if float(count) == 0:
            raise ValueError(
                "`train` has no valid response: every response is missing (NaN) or masked, so there is nothing to "
                "fit; check the dataset's responses and the neurons and stimuli selected"
            )
        return float(all_reduce_sum(total, ctx) / count)

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

        Example:
            >>> from deepSTRF.datasets import SimulatedDataset
            >>> from deepSTRF.models.audio.strf_models import Linear
            >>> data = SimulatedDataset(n_neurons=2, n_stimuli=4, seed=0)  # stimuli 2 and 3: 4 and 20 trials
            >>> fitter = Fitter(Linear(n_frequency_bands=data.F, out_neurons=2), device="cpu", progress=False)
            >>> pred, responses, mask = fitter.predict(data.subset(stimuli=[2, 3]))
            >>> pred.shape, responses.shape, bool(responses[0, :, 4:].isnan().all())
            (torch.Size([2, 2, 1, 400]), torch.Size([2, 2, 20, 400]), True)
        """
        loader = self._loader(data, train=False)
        was_training = self.model.training
        self.model.eval()
        preds, resps, masks = [], [], []
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            for batch in loader:
                responses = batch["responses"].to(self.device, self.dtype)
                pred = self.model(batch["stims"].to(self.device, self.dtype)).to(self.dtype)
                mask = batch_mask(batch, responses.shape[-1], self.device)
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

    def evaluate(self, data: Dataset | DataLoader, metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, torch.Tensor]:
        """Per-neuron metrics of the model on a whole split.

        Args:
            data: See :meth:`predict`.
            metrics: Names among :data:`~deepSTRF.training.config.VALIDATION_METRICS` (the registered
                :data:`deepSTRF.metrics.METRICS` and ``'loss'``), each computed once over all stimuli of the split.

        Returns:
            ``{name: (N,) tensor on CPU}``; NaN for a neuron a metric cannot score
            (e.g. normalised scores need repeated trials).

        Raises:
            ValueError: If a metric name is unknown, or the data's ``dt_ms`` / ``audio_fs`` differs from the
                model's :attr:`~deepSTRF.models.neural_model.NeuralModel.data_spec`.

        Example:
            >>> from deepSTRF.datasets import SimulatedDataset
            >>> from deepSTRF.models.audio.strf_models import Linear
            >>> data = SimulatedDataset(n_neurons=3, n_stimuli=4, seed=0)
            >>> fitter = Fitter(Linear(n_frequency_bands=data.F, out_neurons=3), device="cpu", progress=False)
            >>> scores = fitter.evaluate(data.subset(stimuli=[3]), metrics=("cc", "loss"))
            >>> {name: tuple(values.shape) for name, values in scores.items()}
            {'cc': (3,), 'loss': (3,)}
        """
        match_data_spec(self.model, data, record=False)
        pred, resp, mask = self.predict(data)
        return {name: score_split(name, pred, resp, mask, self.config.loss).cpu() for name in metrics}

    # ------------------------------------------------------------------ training-state files
    def _save(self, epoch: int, stopped: bool) -> None:
        if self.checkpoint_dir is not None and self.ctx.is_main:
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
                "best": self.best.state_dict(),
            }
            save_state(state, self.checkpoint_dir / STATE_FILE)
        barrier(self.ctx)

    def _load(self, path: Path) -> tuple[int, bool]:
        state = load_state(path, map_location=self.device)
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not a deepSTRF training state")
        # a setting the saved state predates (added to FitConfig later) is read at its default
        ours, theirs = self.config.to_dict(), {**FitConfig().to_dict(), **state["config"]}
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
        self.best.load_state_dict(state["best"])
        set_rng_state(state["rng"])
        return int(state["epoch"]) + 1, bool(state["stopped"])

    # ------------------------------------------------------------------ the loop
    def fit(self, train: Dataset | DataLoader, val: Dataset | DataLoader | None = None) -> FitResult:
        """Train, then load the weights of the best epoch.

        Without ``val`` there is no early stopping and the best epoch is the one with the
        lowest training loss. A training dataset of fewer stimuli than ``batch_size`` is cut
        into windows by default (``config.window``); a ``DataLoader`` is used as it is.

        Args:
            train: Training data: a dataset (batched, shuffled by ``(seed, epoch)`` and, under
                ``torchrun``, shared out between processes) or a ``DataLoader`` of
                :func:`~deepSTRF.datasets.neural_collate` batches.
            val: Validation data, scored as a whole after each epoch with ``config.metric``.

        Returns:
            A :class:`FitResult`.

        Raises:
            ValueError: If ``train`` or ``val`` is empty or has no valid (non-missing) response, or
                the first batch has a NaN/inf stimulus or an infinite response.
            NonFiniteLossError: If the loss or the gradient norm becomes NaN/Inf; the model
                then holds the weights of the best epoch so far and the state file of the
                last completed epoch is left as it was.
            ValueError: If ``per_neuron_best`` or the ``'plateau'`` scheduler is used without
                ``val``, a saved training state does not match the configuration, or the model
                records another ``dt_ms`` / ``audio_fs`` than ``train`` (which it records otherwise).

        Example:
            >>> from deepSTRF.datasets import SimulatedDataset
            >>> from deepSTRF.models.audio.strf_models import Linear
            >>> data = SimulatedDataset(n_neurons=2, n_stimuli=4, seed=0)
            >>> model = Linear(n_frequency_bands=data.F, temporal_window_size=5, out_neurons=2)
            >>> fitter = Fitter(model, FitConfig(max_epochs=3), device="cpu", progress=False)
            >>> result = fitter.fit(data.subset(stimuli=[0, 1, 2]))  # no validation data: no early stopping
            >>> result.epochs_run, result.stopped_early, sorted(result.history[0])
            (3, False, ['epoch', 'lr', 'train_loss'])
            >>> result.history[-1]["train_loss"] < result.history[0]["train_loss"]
            True
        """
        cfg = self.config
        match_data_spec(self.model, train, record=True, source="the training data")
        if val is None and (cfg.per_neuron_best or cfg.scheduler == "plateau"):
            raise ValueError("`per_neuron_best` and the 'plateau' scheduler need validation data (`val`)")
        _check_not_empty("train", train)
        if val is not None:
            _check_not_empty("val", val)
        if val is None:
            self.stopper = EarlyStopping(None, "min")
        window = cfg.window
        if window == "auto" and not isinstance(train, DataLoader):
            window = auto_window(train, cfg.batch_size, cfg.window_context)
        if isinstance(window, int) and not isinstance(train, DataLoader):
            train = WindowedDataset(train, window, cfg.window_context)
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
                if not self.history and not bool((mask & torch.isfinite(resp).any(dim=2, keepdim=True)).any()):
                    raise ValueError(
                        "`val` has no valid response: every response is missing (NaN) or masked, so no epoch can "
                        "be scored; check the validation split, or pass val=None"
                    )
                scores = score_split(cfg.metric, pred, resp, mask, cfg.loss)
                score = float(scores.nanmean()) if bool(torch.isfinite(scores).any()) else math.nan
                record[metric] = score
            if self.stopper.update(score, epoch):
                self.best.remember(self.model, scores)
            if cfg.per_neuron_best and scores is not None:
                self.best.remember_neurons(self.model, scores)
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
        if self.best.state is None and self.history:
            warnings.warn(
                f"the validation score ({cfg.metric}) was never finite; keeping the last epoch's weights", stacklevel=2
            )
        self.best.restore(self.model)
        return FitResult(
            best_epoch=self.stopper.best_epoch,
            best_score=self.stopper.best_score if self.stopper.best_epoch >= 0 else math.nan,
            epochs_run=len(self.history),
            stopped_early=stopped,
            history=list(self.history),
            neuron_scores=None if self.best.neuron_scores is None else self.best.neuron_scores.cpu(),
        )

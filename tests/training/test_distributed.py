import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deepSTRF.training.distributed import (
    DistContext,
    all_gather_padded,
    all_reduce_sum,
    barrier,
    init_distributed,
    shard_indices,
    train_sampler,
)

WORKER = Path(__file__).with_name("_workers.py")


def test_single_process_context(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    ctx = init_distributed("cpu")
    assert ctx == DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    assert ctx.is_main and not ctx.is_distributed
    x = torch.arange(6.0).reshape(2, 3)
    assert all_gather_padded(x, ctx) is x and torch.equal(all_reduce_sum(x, ctx), x)
    barrier(ctx)


def test_init_errors(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE must be an integer"):
        init_distributed("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            init_distributed("cuda")


def test_shards_cover_every_item_once():
    ctxs = [DistContext(rank=r, world_size=3, local_rank=r, device=torch.device("cpu")) for r in range(3)]
    shards = [shard_indices(8, ctx) for ctx in ctxs]
    assert shards == [[0, 3, 6], [1, 4, 7], [2, 5]]


def test_rank_batches_together_equal_the_single_process_batch():
    single = list(train_sampler(range(8), DistContext(0, 1, 0, torch.device("cpu")), shuffle=True, seed=3))
    ranks = [
        list(train_sampler(range(8), DistContext(r, 2, r, torch.device("cpu")), shuffle=True, seed=3)) for r in range(2)
    ]
    per_rank_batch = 2
    for k in range(2):
        joint = sorted(
            ranks[0][k * per_rank_batch : (k + 1) * per_rank_batch]
            + ranks[1][k * per_rank_batch : (k + 1) * per_rank_batch]
        )
        assert joint == sorted(single[k * 4 : (k + 1) * 4])


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_cpu_processes_match_one(tmp_path):
    """torchrun with 2 gloo processes (2 stimuli each per step) equals 1 process with batches of 4."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        str(WORKER),
        "ddp",
        str(tmp_path / "ddp.pt"),
    ]
    single = subprocess.Popen([sys.executable, str(WORKER), "ddp", str(tmp_path / "single.pt")], env=env)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert single.wait(timeout=180) == 0
    two, one = torch.load(tmp_path / "ddp.pt"), torch.load(tmp_path / "single.pt")
    assert two["world_size"] == 2 and one["world_size"] == 1
    for key, value in one["state"].items():
        assert torch.allclose(two["state"][key], value, rtol=1e-9, atol=1e-12), key
    assert [h["val_cc"] for h in two["history"]] == pytest.approx([h["val_cc"] for h in one["history"]], abs=1e-9)
    assert [h["train_loss"] for h in two["history"]] == pytest.approx([h["train_loss"] for h in one["history"]])
    assert torch.allclose(two["cc"], one["cc"], atol=1e-9)

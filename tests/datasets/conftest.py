"""Small ragged datasets shared by the dataset tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from deepSTRF.datasets import NeuralDataset


def make_ragged(seed: int = 0, *, n_stim: int = 4, n_neurons: int = 3, n_bands: int = 5) -> NeuralDataset:
    """Stimuli of lengths 6, 9, 4, 7...; neuron n has n + 1 + (s % 2) trials; pair (1, 2) is missing."""
    rng = np.random.default_rng(seed)
    lengths = [6, 9, 4, 7, 5, 8][:n_stim]
    stims = [rng.normal(size=(1, n_bands, t)).astype(np.float32) for t in lengths]
    responses = []
    for s, t in enumerate(lengths):
        row = []
        for n in range(n_neurons):
            if (s, n) == (1, 2):
                row.append(None)
            else:
                row.append(rng.poisson(2.0, size=(n + 1 + s % 2, t)).astype(np.float32))
        responses.append(row)
    stim_meta = [{"name": f"s{s}", "kind": "speech" if s % 2 else "noise"} for s in range(n_stim)]
    nrn_meta = [{"cell_id": f"c{n}", "area": "A1" if n < 2 else "PEG", "depth": 100 * n} for n in range(n_neurons)]
    return NeuralDataset(stims, responses, 5.0, stim_meta=stim_meta, nrn_meta=nrn_meta, name="toy")


@pytest.fixture
def ragged() -> NeuralDataset:
    return make_ragged()


@pytest.fixture
def ragged_factory():
    return make_ragged


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.fixture
def serve_http() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], ThreadingHTTPServer]]:
    """Start threaded HTTP servers on 127.0.0.1 (a free port each); all are stopped at teardown.

    The fixture is a function: ``httpd = serve_http(HandlerClass)``; the server's address is
    ``http://127.0.0.1:{httpd.server_address[1]}``.
    """
    started: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        started.append(httpd)
        return httpd

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()

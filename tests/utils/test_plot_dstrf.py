"""Figures of dynamic STRFs: the strip under the stimulus and response, and the population indices."""

import io

import numpy as np
import pytest
import torch

from deepSTRF.models.audio import LinearNonlinear
from deepSTRF.models.interpret import dynamic_strfs, nonlinearity_indices
from deepSTRF.utils.plotting import plot_dstrf_strip, plot_nonlinearity_indices

pytest.importorskip("matplotlib")


@pytest.fixture
def result():
    torch.manual_seed(0)
    model = LinearNonlinear(n_frequency_bands=6, temporal_window_size=4, out_neurons=2)
    return dynamic_strfs(model, torch.randn(6, 40))


def _renders(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    return buffer.tell() > 0


def test_strip_draws_the_chosen_times_in_one_colour_scale(result):
    fig = plot_dstrf_strip(result, neuron=1, times=[5, 20, 39], dt_ms=5.0, freqs_hz=np.geomspace(500, 8000, 6))
    panels = [ax for ax in fig.axes if ax.get_title().startswith("t = ")]
    assert [ax.get_title() for ax in panels] == ["t = 25 ms", "t = 100 ms", "t = 195 ms"]
    high = float(result.dstrfs[1, [5, 20, 39]].abs().max())
    assert all(ax.images[0].get_clim() == pytest.approx((-high, high)) for ax in panels)
    response_axes = fig.axes[1]
    np.testing.assert_allclose(response_axes.lines[0].get_ydata(), result.response[1].double().numpy())
    assert _renders(fig)


def test_strip_default_times_are_complete(result):
    fig = plot_dstrf_strip(result, n_panels=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("t = ")]
    assert titles[0] == "t = 3 bins" and titles[-1] == "t = 39 bins" and len(titles) == 4


def test_indices_figure_for_several_models(result):
    found = nonlinearity_indices(result)
    fig = plot_nonlinearity_indices({"LN": found, "other": {k: v * 2 for k, v in found.items()}})
    assert [ax.get_title() for ax in fig.axes] == ["gain change", "temporal hold (bins)", "shape change"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["LN", "other"]
    assert _renders(fig)


def test_errors(result):
    with pytest.raises(TypeError, match="`result` must be a DynamicSTRFs"):
        plot_dstrf_strip(result.dstrfs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`neuron` must be < 2 \(neurons in the result\), got 2"):
        plot_dstrf_strip(result, neuron=2)
    with pytest.raises(ValueError, match="`times` must be time points of the result"):
        plot_dstrf_strip(result, times=[40])
    with pytest.raises(ValueError, match="`indices` must be a non-empty mapping"):
        plot_nonlinearity_indices({})
    with pytest.raises(ValueError, match="must hold the same index names"):
        plot_nonlinearity_indices({"a": {"gain_change": [1.0]}, "b": {"shape_change": [1.0]}})

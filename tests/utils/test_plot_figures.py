"""Figures of deepSTRF.utils.plotting: STRF grids, responses, scores, prefilter kernels, front-end filterbanks."""

import io
import math
import sys

import numpy as np
import pytest
import torch

from deepSTRF.models.prefiltering import AdapTrans, ICAdaptation, make_prefiltering
from deepSTRF.models.wav2spec import (
    CausalGammatone,
    CausalLEAF,
    CausalMelSpectrogram,
    Gammatonegram,
    PublishedCausalGammatone,
    SincNet,
    make_wav2spec,
)
from deepSTRF.utils.plotting import (
    filterbank_responses,
    plot_adaptation_kernels,
    plot_filterbank,
    plot_metric_distributions,
    plot_prediction_scatter,
    plot_responses,
    plot_strf_grid,
)

pytest.importorskip("matplotlib")


def _images(fig):
    return [ax.images[0] for ax in fig.axes if ax.images]


def _renders(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    return buffer.tell() > 0


# ---------------------------------------------------------------- STRF grids


def test_strf_grid_shared_limits_use_the_global_maximum():
    strfs = torch.randn(5, 6, 4, dtype=torch.float64)
    strfs[3, 2, 1] = 7.5
    fig = plot_strf_grid(strfs, clim="shared")
    assert len(fig.axes) == 5 + 1  # five panels, one colour bar
    assert [im.get_clim() for im in _images(fig)] == [(-7.5, 7.5)] * 5
    assert _renders(fig)


def test_strf_grid_per_panel_limits_and_colour_bars():
    strfs = np.random.default_rng(0).normal(size=(3, 6, 4))
    fig = plot_strf_grid(strfs, clim="per_panel")
    assert len(fig.axes) == 3 * 2
    for im, strf in zip(_images(fig), strfs):
        high = np.abs(strf).max()
        assert im.get_clim() == pytest.approx((-high, high))


def test_strf_grid_fixed_limit_and_no_colour_bar():
    fig = plot_strf_grid(torch.randn(2, 5, 3), clim=0.25, colorbar=False)
    assert len(fig.axes) == 2
    assert all(im.get_clim() == (-0.25, 0.25) for im in _images(fig))


def test_strf_grid_on_off_channels_are_stacked_per_neuron():
    strfs = torch.randn(3, 2, 6, 4)
    fig = plot_strf_grid(strfs, ncols=3, titles=["a", "b", "c"])
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["a ON", "b ON", "c ON", "a OFF", "b OFF", "c OFF"]
    on_of_b = _images(fig)[1].get_array()
    np.testing.assert_allclose(on_of_b, strfs[1, 0].numpy(), rtol=1e-6)


def test_strf_grid_single_strf_and_time_axis_in_ms():
    fig = plot_strf_grid(torch.randn(6, 4), dt_ms=5.0, freqs_hz=torch.linspace(500, 8000, 6))
    (image,) = _images(fig)
    assert image.get_extent() == pytest.approx([-17.5, 2.5, -0.5, 5.5])
    assert fig.axes[0].get_ylabel() == "frequency (kHz)"
    assert "ms" in fig.axes[0].get_xlabel()


def test_strf_grid_drops_unused_grid_cells():
    fig = plot_strf_grid(torch.randn(5, 4, 3), ncols=3, colorbar=False)
    assert len(fig.axes) == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"strfs": torch.randn(4)}, ValueError, r"`strfs` must be 2-D or 3-D or 4-D, got shape \(4,\)"),
        ({"clim": "global"}, ValueError, r"`clim` must be one of \['shared', 'per_panel'\]"),
        ({"clim": -1.0}, ValueError, "`clim` must be > 0"),
        ({"titles": ["x"]}, ValueError, r"`titles` must hold 2 titles"),
        ({"channel_names": ["a", "b", "c"]}, ValueError, r"`channel_names` must hold 2 names"),
        ({"freqs_hz": [1.0, 2.0]}, ValueError, r"`freqs_hz` must hold one frequency per band \(5\)"),
        ({"ncols": 0}, ValueError, "`ncols` must be an int >= 1"),
        ({"strfs": "abc"}, TypeError, "`strfs` must be a tensor or an array of numbers"),
    ],
)
def test_strf_grid_rejects_bad_input(kwargs, error, match):
    args = {"strfs": torch.randn(2, 2, 5, 3), **kwargs}
    with pytest.raises(error, match=match):
        plot_strf_grid(args.pop("strfs"), **args)


# ---------------------------------------------------------------- adaptation kernels


def test_adaptation_kernels_of_adaptrans_show_the_built_kernels():
    pre = AdapTrans(torch.tensor([0.5, 0.7, 0.9]), torch.tensor([0.6, 0.7, 0.8]), kernel_size=6)
    fig = plot_adaptation_kernels(pre, dt_ms=10.0, bands=[1])
    assert len(fig.axes) == 2 * 2 + 1
    kernels = pre.build_kernels().detach().double().numpy()
    on_image, off_image = _images(fig)
    np.testing.assert_allclose(on_image.get_array(), kernels[0, :, :-1])
    np.testing.assert_allclose(off_image.get_array(), kernels[1, :, :-1])
    curve = fig.axes[2].lines[0]
    np.testing.assert_allclose(curve.get_xdata(), [-50.0, -40.0, -30.0, -20.0, -10.0])
    np.testing.assert_allclose(curve.get_ydata(), kernels[0, 1, :-1])
    assert "+1.00" in fig.axes[2].get_legend().get_texts()[0].get_text()


def test_adaptation_kernels_of_icadaptation_have_one_channel():
    pre = make_prefiltering("icadaptation", n_frequency_bands=6, dt=10.0)
    fig = plot_adaptation_kernels(pre)
    assert len(fig.axes) == 3
    assert len(fig.axes[1].lines) == 3 + 1  # lowest, middle, highest band and the zero line


def test_adaptation_kernels_reject_bad_input():
    with pytest.raises(TypeError, match="`prefilter` must be an AdapTrans or ICAdaptation module, got Linear"):
        plot_adaptation_kernels(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"`bands` must hold indices in \[0, 2\)"):
        plot_adaptation_kernels(ICAdaptation([0.5, 0.6], kernel_size=3), bands=[2])


# ---------------------------------------------------------------- front-ends


def test_mel_filterbank_response_is_its_triangles():
    mel = CausalMelSpectrogram(16000, dt_ms=5.0, n_filters=10)
    freqs, gains = filterbank_responses(mel)
    torch.testing.assert_close(gains, mel.filterbank.double().T)
    assert freqs[0] == 0 and freqs[-1] == 8000 and freqs.shape == (gains.shape[1],)


@pytest.mark.parametrize("cls", [CausalGammatone, Gammatonegram, PublishedCausalGammatone])
def test_gammatone_responses_peak_at_the_centre_frequencies(cls):
    front_end = cls(16000, dt_ms=5.0, n_filters=6, f_min_hz=300.0, f_max_hz=5000.0)
    freqs, gains = filterbank_responses(front_end, n_fft=8192)
    peaks = freqs[gains.argmax(dim=1)]
    centres = front_end.centre_freqs.double()
    assert torch.all((peaks - centres).abs() <= 0.03 * centres + 2.0), (peaks, centres)


def test_gammatonegram_has_unit_gain_at_its_centre_frequencies():
    front_end = Gammatonegram(16000, dt_ms=5.0, n_filters=4, f_min_hz=500.0, f_max_hz=4000.0)
    _, gains = filterbank_responses(front_end, n_fft=16000)  # 1 Hz grid
    at_centre = gains[torch.arange(4), front_end.centre_freqs.round().long()]
    torch.testing.assert_close(at_centre, torch.ones(4, dtype=torch.float64), rtol=0.02, atol=0.0)


def test_sincnet_response_matches_an_independent_fft_and_passes_its_band():
    sinc = SincNet(16000, n_filters=3, kernel_size=129, dt_ms=1000 / 16000)
    _, gains = filterbank_responses(sinc, n_fft=1024)
    kernels = sinc.kernels().detach().double().numpy()
    expected = np.abs(np.fft.rfft(kernels, n=1024)) ** 2
    np.testing.assert_allclose(gains.numpy(), expected, atol=1e-12)
    low, high = (c.detach().double() for c in sinc.cutoffs())
    middle = ((low + high) / 2 / (16000 / 1024)).round().long()
    in_band = gains[torch.arange(3), middle]
    assert torch.all((in_band > 0.8) & (in_band < 1.2)), in_band


def test_leaf_response_peaks_at_its_gabor_centres():
    leaf = CausalLEAF(16000, dt_ms=10.0, n_filters=5, kernel_ms=25.0, window_ms=10.0)
    freqs, gains = filterbank_responses(leaf, n_fft=8192)
    centres = leaf.centre.detach().double() * 16000 / (2 * math.pi)
    peaks = freqs[gains.argmax(dim=1)]
    assert torch.all((peaks - centres).abs() <= 2.0), (peaks, centres)


def test_plot_filterbank_draws_one_line_per_channel():
    fig = plot_filterbank(make_wav2spec("gammatone", 16000, 5.0, n_filters=7), floor_db=-40.0)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 7
    assert min(line.get_ydata().min() for line in fig.axes[0].lines) >= -40.0
    assert max(line.get_ydata().max() for line in fig.axes[0].lines) == pytest.approx(0.0)
    assert _renders(fig)


def test_filterbank_rejects_bad_input():
    with pytest.raises(TypeError, match="`front_end` must be a deepSTRF wav2spec front-end, got Linear"):
        filterbank_responses(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="`n_fft` must be an int >= 2"):
        filterbank_responses(make_wav2spec("mel", 16000, 5.0, n_filters=4), n_fft=1)
    with pytest.raises(ValueError, match="`floor_db` must be a negative number of dB, got 3"):
        plot_filterbank(make_wav2spec("mel", 16000, 5.0, n_filters=4), floor_db=3)


# ---------------------------------------------------------------- responses


def test_responses_spectrogram_mode_draws_a_raster_and_the_prediction():
    counts = torch.zeros(4, 30)
    counts[0, 3] = counts[2, 10] = counts[3, 29] = 2.0
    prediction = torch.linspace(0, 1, 30)
    fig = plot_responses(torch.rand(1, 8, 30), counts, prediction, dt_ms=10.0, title="unit 7")
    assert len(fig.axes) == 3 + 1  # stimulus, raster, PSTH, colour bar
    stim_ax, raster_ax, psth_ax = fig.axes[:3]
    assert stim_ax.images[0].get_extent() == pytest.approx([0.0, 0.3, -0.5, 7.5])
    offsets = raster_ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, [[0.035, 0], [0.105, 2], [0.295, 3]])
    psth = counts.double().mean(0).numpy()
    r = np.corrcoef(psth, prediction.double().numpy())[0, 1]
    labels = [t.get_text() for t in psth_ax.get_legend().get_texts()]
    assert labels == ["measured (trial mean)", f"predicted (r = {r:.2f})"]
    assert psth_ax.get_ylabel() == "spikes / bin"
    assert fig._suptitle.get_text() == "unit 7"
    assert _renders(fig)


def test_responses_pick_a_neuron_and_skip_missing_trials():
    responses = torch.full((2, 3, 20), float("nan"))
    responses[1, :2] = torch.arange(40.0).reshape(2, 20) / 7  # signed, non-integer: drawn as an image
    fig = plot_responses(torch.rand(1, 1, 5, 20), responses[None], torch.ones(1, 2, 1, 20), dt_ms=5.0, neuron=1)
    assert len(fig.axes) == 3 + 2  # trials image gets a colour bar too
    trials_image = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(trials_image, responses[1, :2].numpy())
    assert fig.axes[1].get_title() == "trials (2)"
    assert fig.axes[2].get_legend().get_texts()[1].get_text() == "predicted (r = nan)"  # constant prediction


def test_responses_waveform_mode_draws_the_waveform():
    audio = torch.randn(1, 1, 10 * 80)
    fig = plot_responses(audio, torch.poisson(torch.ones(3, 10)), dt_ms=5.0, audio_fs=16000)
    assert len(fig.axes) == 3
    (line,) = fig.axes[0].lines
    np.testing.assert_allclose(line.get_ydata(), audio.reshape(-1).numpy(), rtol=1e-6)
    assert line.get_xdata()[-1] == pytest.approx(799 / 16000)


@pytest.mark.parametrize(
    ("stimulus", "responses", "kwargs", "match"),
    [
        (torch.rand(4, 9), torch.ones(2, 10), {}, r"`stimulus` must have the responses' 10 time bins.*\(4, 9\)"),
        (torch.rand(1, 700), torch.ones(2, 10), {"audio_fs": 16000}, r"T_audio = 10 bins x hop 80 = 800"),
        (torch.rand(1, 700), torch.ones(2, 10), {"audio_fs": 1001.0}, "must be a whole number of samples"),
        (torch.rand(4, 10), torch.ones(2, 2, 10), {"neuron": 2}, r"`neuron` must be < 2"),
        (torch.rand(4, 10), torch.ones(2, 1, 2, 10), {}, r"single stimulus \(batch size 1\)"),
        (torch.rand(4, 10), torch.ones(2, 10), {"prediction": torch.ones(9)}, "must give 10 time bins"),
        (torch.rand(4, 10), torch.ones(2, 10), {"dt_ms": 0.0}, "`dt_ms` must be > 0"),
    ],
)
def test_responses_reject_bad_input(stimulus, responses, kwargs, match):
    options = {"dt_ms": 5.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        plot_responses(stimulus, responses, options.pop("prediction", None), **options)


# ---------------------------------------------------------------- scores


def test_prediction_scatter_colours_neurons_and_drops_invalid_bins():
    target = torch.poisson(torch.full((2, 3, 4, 25), 2.0))
    target[0, 1] = float("nan")  # a missing (stimulus, neuron) pair
    pred = target.mean(2, keepdim=True) * 0.5
    fig = plot_prediction_scatter(pred, target)
    (ax,) = fig.axes
    assert [len(c.get_offsets()) for c in ax.collections] == [50, 25, 50]
    assert "r = 1.000 over 125 bins" in ax.get_title()


def test_prediction_scatter_subsamples_and_merges_many_neurons():
    target = torch.rand(1, 12, 1, 100)
    fig = plot_prediction_scatter(target[0], target[0], max_points=300)
    (ax,) = fig.axes
    assert len(ax.collections) == 1 and len(ax.collections[0].get_offsets()) == 300


def test_prediction_scatter_rejects_bad_input():
    with pytest.raises(ValueError, match=r"must be \(B, N, 1, T\) matching `target`"):
        plot_prediction_scatter(torch.rand(1, 2, 1, 5), torch.rand(1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"`neurons` must be indices in \[0, 2\)"):
        plot_prediction_scatter(torch.rand(1, 2, 1, 5), torch.rand(1, 2, 4, 5), neurons=[2])
    with pytest.raises(ValueError, match="no time bin has both"):
        plot_prediction_scatter(torch.rand(1, 2, 1, 5), torch.full((1, 2, 4, 5), float("nan")))


def test_metric_distributions_one_panel_per_metric_with_the_median():
    scores = {"cc": torch.tensor([0.1, 0.5, float("nan"), 0.9]), "fve": np.array([np.nan, np.nan])}
    fig = plot_metric_distributions(scores, bins=5)
    assert len(fig.axes) == 2
    median_line = fig.axes[0].lines[0]
    assert median_line.get_xdata()[0] == pytest.approx(0.5)
    assert fig.axes[0].get_title() == "median 0.500 (dashed), 3/4 neurons"
    assert fig.axes[0].get_xlabel() == "cc" and fig.axes[0].get_legend() is None
    assert sum(p.get_height() for p in fig.axes[0].patches) == 3
    assert fig.axes[1].get_title() == "no finite value (0/2 neurons)" and fig.axes[1].get_xlabel() == "fve"
    assert len(plot_metric_distributions(torch.rand(8)).axes) == 1


def test_metric_distributions_reject_bad_input():
    with pytest.raises(ValueError, match="at least one metric"):
        plot_metric_distributions({})
    with pytest.raises(ValueError, match=r"`scores\['cc'\]` must be 1-D, got shape \(2, 2\)"):
        plot_metric_distributions({"cc": torch.rand(2, 2)})


# ---------------------------------------------------------------- optional dependency


def test_missing_matplotlib_names_the_plot_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"deepSTRF\[plot\]"):
        plot_strf_grid(torch.randn(2, 3, 3))

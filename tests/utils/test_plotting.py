import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from deepSTRF.utils.plotting import plot_learned_vs_true, plot_strfs, strf_correlation


def test_plot_strfs_grid_titles_and_colour_scale(tmp_path):
    strfs = torch.randn(5, 6, 4)
    fig = plot_strfs(strfs, titles=[f"n{i}" for i in range(5)], ncols=3, dt_ms=5.0)
    assert isinstance(fig, Figure) and len(fig.axes) == 5 * 2  # the sixth grid cell is removed; 5 colour bars
    panels = [ax for ax in fig.axes if ax.images and ax.get_title()]
    image = panels[0].images[0]
    assert image.get_clim() == pytest.approx((-float(strfs[0].abs().max()), float(strfs[0].abs().max())))
    assert [ax.get_title() for ax in panels] == [f"n{i}" for i in range(5)]
    # axis labels on the outer panels only: time under each column, frequency left of each row
    time_label = "time relative to response (ms)"
    assert [ax.get_xlabel() for ax in panels] == ["", "", time_label, time_label, time_label]
    assert [ax.get_ylabel() for ax in panels] == ["frequency band", "", "", "frequency band", ""]
    fig.savefig(tmp_path / "strfs.png")
    assert (tmp_path / "strfs.png").stat().st_size > 0


def test_plot_strfs_accepts_one_array_strf():
    fig = plot_strfs(np.ones((6, 4)), colorbar=False)
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "neuron 0"
    assert fig.axes[0].images[0].get_extent() == pytest.approx([-3.5, 0.5, -0.5, 5.5])  # present bin at 0
    assert fig.axes[0].get_xlabel() == "time relative to response (bins)"


def test_plot_strfs_errors():
    with pytest.raises(ValueError, match=r"shape \(N, F, T\) or \(F, T\), got \(3,\)"):
        plot_strfs(torch.zeros(3))
    with pytest.raises(ValueError, match="must hold 2 titles"):
        plot_strfs(torch.zeros(2, 3, 3), titles=["a"])


def test_strf_correlation_reference_and_lag_alignment():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 5, 4, generator=g), torch.randn(3, 5, 4, generator=g)
    expected = [np.corrcoef(a[i].flatten(), b[i].flatten())[0, 1] for i in range(3)]
    np.testing.assert_allclose(strf_correlation(a, b).numpy(), expected, rtol=1e-6)
    longer = torch.cat([torch.randn(3, 5, 2, generator=g), b], dim=2)  # extra older lags are ignored
    np.testing.assert_allclose(strf_correlation(a, longer).numpy(), expected, rtol=1e-6)
    assert torch.isnan(strf_correlation(torch.zeros(1, 2, 2), torch.ones(1, 2, 2))).all()
    with pytest.raises(ValueError, match="must share N and F"):
        strf_correlation(torch.zeros(2, 3, 3), torch.zeros(2, 4, 3))


def test_plot_learned_vs_true_two_rows_with_correlations():
    learned, true = torch.randn(10, 6, 4), torch.randn(10, 6, 5)
    fig = plot_learned_vs_true(learned, true, max_neurons=3, colorbar=False)
    assert len(fig.axes) == 6
    r = float(strf_correlation(learned, true)[0])
    assert fig.axes[0].get_title() == f"learned 0 (r = {r:.2f})" and fig.axes[3].get_title() == "true 0"
    np.testing.assert_allclose(fig.axes[4].images[0].get_array(), true[1].numpy(), rtol=1e-6)
    assert fig.axes[4].images[0].get_clim() == pytest.approx((-float(true[1].abs().max()), float(true[1].abs().max())))


def test_plot_learned_vs_true_wraps_neurons_and_adds_colour_bars():
    learned, true = torch.randn(5, 6, 4), torch.randn(5, 6, 4)
    fig = plot_learned_vs_true(learned, true, ncols=3, dt_ms=5.0, freqs_hz=np.geomspace(500, 8000, 6))
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 10 and len(fig.axes) == 20  # 5 neurons x (learned, true), one colour bar each
    titles = [ax.get_title().split(" (")[0] for ax in panels]
    first_row = ["learned 0", "learned 1", "learned 2", "true 0", "true 1", "true 2"]
    assert titles == [*first_row, "learned 3", "learned 4", "true 3", "true 4"]  # rows of 3 and 2 neurons
    assert sum(ax.get_ylabel() == "frequency (kHz)" for ax in panels) == 4  # first panel of each row
    with pytest.raises(ValueError, match="one frequency per band"):
        plot_learned_vs_true(learned, true, freqs_hz=[1.0, 2.0])


def test_plot_learned_vs_true_compact_tiles_one_image(tmp_path):
    learned, true = torch.randn(5, 6, 4), torch.randn(5, 6, 5)
    fig = plot_learned_vs_true(learned, true, ncols=3, dt_ms=5.0, compact=True)
    assert len(fig.axes) == 2  # one image of every panel, one colour bar
    ax = fig.axes[0]
    canvas = ax.images[0].get_array()
    assert ax.images[0].get_clim() == (-1.0, 1.0)
    texts = [t.get_text() for t in ax.texts]
    r = strf_correlation(learned, true)
    assert texts[:2] == [f"learned 0 (r = {float(r[0]):.2f})", "true 0"] and texts[-1] == "true 4"
    # each tile is its STRF over its largest absolute weight, frequency upwards, the present lag on the right
    tiles = [x[::-1] / np.abs(x).max() for x in (learned[0].numpy(), true[0].numpy())]
    n_bands, lags, gap_y = 6, 5, 2  # a gap of 2 image rows above each tile holds its title
    first = np.asarray(canvas)[gap_y : gap_y + n_bands, :lags]
    np.testing.assert_allclose(first[:, 1:], tiles[0], rtol=1e-6)  # 4 learned lags, right-aligned in 5
    assert np.isnan(first[:, 0]).all()
    second = np.asarray(canvas)[(n_bands + gap_y) + gap_y : (n_bands + gap_y) + gap_y + n_bands, :lags]
    np.testing.assert_allclose(second, tiles[1], rtol=1e-6)
    assert "25 ms" in ax.get_xlabel() and "bands 0 to 5" in ax.get_ylabel()
    fig.savefig(tmp_path / "compact.png")
    assert (tmp_path / "compact.png").stat().st_size > 0
    with pytest.raises(TypeError, match="`compact` must be a bool"):
        plot_learned_vs_true(learned, true, compact=1)

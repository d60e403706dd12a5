import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from deepSTRF.utils.plotting import plot_learned_vs_true, plot_strfs, strf_correlation


def test_plot_strfs_grid_titles_and_colour_scale(tmp_path):
    strfs = torch.randn(5, 6, 4)
    fig = plot_strfs(strfs, titles=[f"n{i}" for i in range(5)], ncols=3, dt_ms=5.0)
    assert isinstance(fig, Figure) and len(fig.axes) == 5  # the sixth grid cell is removed
    image = fig.axes[0].images[0]
    assert image.get_clim() == pytest.approx((-float(strfs[0].abs().max()), float(strfs[0].abs().max())))
    assert [ax.get_title() for ax in fig.axes] == [f"n{i}" for i in range(5)]
    assert fig.axes[0].get_xlabel() == "lag (ms)"
    fig.savefig(tmp_path / "strfs.png")
    assert (tmp_path / "strfs.png").stat().st_size > 0


def test_plot_strfs_accepts_one_array_strf():
    fig = plot_strfs(np.ones((6, 4)))
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "neuron 0"


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
    learned, true = torch.randn(10, 6, 4), torch.randn(10, 6, 4)
    fig = plot_learned_vs_true(learned, true, max_neurons=3)
    assert len(fig.axes) == 6
    r = float(strf_correlation(learned, true)[0])
    assert fig.axes[0].get_title() == f"learned 0 (r = {r:.2f})" and fig.axes[3].get_title() == "true 0"

from datetime import datetime, timezone

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")
from pynwb import NWBHDF5IO, NWBFile, TimeSeries  # noqa: E402
from pynwb.epoch import TimeIntervals  # noqa: E402

from deepSTRF.datasets import from_nwb  # noqa: E402

DT = 5.0  # ms
STIMS = {"tone": np.arange(24.0).reshape(3, 8), "noise": np.ones((3, 6))}  # (F, T_s): 40 ms and 30 ms


def _write(path, units, presentations, *, table="trials", column="stimulus_name", stimuli=None, identifier="s1"):
    nwb = NWBFile(
        session_description="test", identifier=identifier, session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc)
    )
    nwb.add_unit_column(name="quality", description="sorting quality")
    for unit in units:
        nwb.add_unit(**unit)
    if table == "trials":
        nwb.add_trial_column(name=column, description="stimulus")
        for start, name in presentations:
            nwb.add_trial(start_time=start, stop_time=start + 0.05, **{column: name})
    else:
        intervals = TimeIntervals(name=table, description="presentations")
        intervals.add_column(name=column, description="stimulus")
        for start, name in presentations:
            intervals.add_interval(start_time=start, stop_time=start + 0.05, **{column: name})
        nwb.add_time_intervals(intervals)
    for name, data in (stimuli or {}).items():
        nwb.add_stimulus(TimeSeries(name=name, data=data, unit="dB", rate=1000.0 / DT))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


# presentations: tone at 1.0 s and 2.0 s, noise at 3.0 s
PRESENTATIONS = [(1.0, "tone"), (2.0, "noise"), (3.0, "tone")]
# unit 0 spikes, relative to the tone at 1.0 s: -1 ms (dropped), 0 (bin 0), 4.999 (bin 0), 5.0 (bin 1),
# 12.5 twice (bin 2, counted twice), 39.999 (bin 7), 40.0 (end: dropped); to the noise at 2.0 s: 29.0 (bin 5);
# to the tone at 3.0 s: 7 ms (bin 1)
UNIT0 = [0.999, 1.0, 1.004999, 1.005, 1.0125, 1.0125, 1.039999, 1.04, 2.029, 3.007]


def test_spike_binning_by_hand(tmp_path):
    path = _write(
        tmp_path / "a.nwb",
        [{"spike_times": UNIT0, "quality": "good"}, {"spike_times": [1.02, 2.0], "quality": "mua"}],
        PRESENTATIONS,
    )
    ds = from_nwb(path, DT, stimuli=STIMS, name="rec")
    assert ds.name == "rec" and ds.lengths == [8, 6] and ds.n_neurons == 2
    tone = ds.get_response(0, 0).numpy()
    np.testing.assert_array_equal(tone, [[2, 1, 2, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(ds.get_response(1, 0).numpy(), [[0, 0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(ds.get_response(0, 1).numpy(), [[0, 0, 0, 0, 1, 0, 0, 0], [0] * 8])
    np.testing.assert_array_equal(ds.get_response(1, 1).numpy(), [[1, 0, 0, 0, 0, 0]])
    assert ds.stim_meta == [{"name": "tone", "n_presentations": 2}, {"name": "noise", "n_presentations": 1}]
    assert ds.nrn_meta[0] == {"unit_id": 0, "nwb_file": "a.nwb", "session_id": "s1", "quality": "good"}
    np.testing.assert_array_equal(ds[0]["stims"][0].numpy(), STIMS["tone"])


def test_observation_intervals_and_several_files(tmp_path):
    a = _write(
        tmp_path / "a.nwb", [{"spike_times": UNIT0, "quality": "good", "obs_intervals": [[0.0, 2.5]]}], PRESENTATIONS
    )
    b = _write(tmp_path / "b.nwb", [{"spike_times": [5.001], "quality": "good"}], [(5.0, "tone")], identifier="s2")
    ds = from_nwb([a, b], DT, stimuli=STIMS)
    assert ds.n_neurons == 2 and [m["session_id"] for m in ds.nrn_meta] == ["s1", "s2"]
    assert ds.n_trials.tolist() == [[1, 1], [1, 0]]  # unit 0 stopped being observed at 2.5 s; b never played noise
    np.testing.assert_array_equal(ds.get_response(0, 0).numpy(), [[2, 1, 2, 0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(ds.get_response(0, 1).numpy(), [[1, 0, 0, 0, 0, 0, 0, 0]])
    assert ds.stim_meta[0]["n_presentations"] == 3


def test_stimuli_read_from_the_file_and_another_interval_table(tmp_path):
    spectro = {name: data.T for name, data in STIMS.items()}  # NWB keeps time first
    path = _write(
        tmp_path / "c.nwb",
        [{"spike_times": UNIT0, "quality": "good"}],
        PRESENTATIONS,
        table="presentations",
        column="sound",
        stimuli=spectro,
    )
    ds = from_nwb(path, DT, intervals="presentations", stimulus_column="sound")
    assert [m["name"] for m in ds.stim_meta] == ["tone", "noise"]
    np.testing.assert_array_equal(ds[1]["stims"][0].numpy(), STIMS["noise"])
    with pytest.raises(ValueError, match=r"stimulus 'tone' has rate 200.0 Hz but 100.0 Hz is expected"):
        from_nwb(path, 10.0, intervals="presentations", stimulus_column="sound")


def test_waveform_stimuli(tmp_path):
    path = _write(tmp_path / "w.nwb", [{"spike_times": UNIT0, "quality": "good"}], PRESENTATIONS)
    audio = {"tone": np.zeros(8 * 80), "noise": np.zeros(6 * 80)}
    ds = from_nwb(path, DT, stimuli=audio, audio_fs=16000)
    assert ds.waveform and ds.lengths == [8, 6] and ds.get_response(0, 0).shape == (2, 8)


def test_unlisted_stimuli_are_ignored_with_a_warning(tmp_path):
    path = _write(tmp_path / "a.nwb", [{"spike_times": UNIT0, "quality": "good"}], PRESENTATIONS)
    with pytest.warns(UserWarning, match=r"presentations of stimuli not in `stimuli` are ignored: \['noise'\]"):
        ds = from_nwb(path, DT, stimuli={"tone": STIMS["tone"]})
    assert len(ds) == 1


def test_bad_nwb_files(tmp_path):
    good = _write(tmp_path / "a.nwb", [{"spike_times": UNIT0, "quality": "good"}], PRESENTATIONS)
    with pytest.raises(ValueError, match=r"no time-intervals table 'presentations'; the file has \['trials'\]"):
        from_nwb(good, DT, stimuli=STIMS, intervals="presentations")
    with pytest.raises(ValueError, match=r"table 'trials' has no column 'sound'; its columns are"):
        from_nwb(good, DT, stimuli=STIMS, stimulus_column="sound")
    with pytest.raises(
        ValueError, match=r"stimulus 'tone' is presented but is neither in `stimuli` nor in nwbfile.stimulus"
    ):
        from_nwb(good, DT)
    nwb = NWBFile(session_description="x", identifier="x", session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    with NWBHDF5IO(str(tmp_path / "empty.nwb"), "w") as io:
        io.write(nwb)
    with pytest.raises(ValueError, match=r"empty.nwb: the NWB file has no units table with spike_times"):
        from_nwb(tmp_path / "empty.nwb", DT, stimuli=STIMS)
    junk = tmp_path / "junk.nwb"
    junk.write_bytes(b"\x00not an nwb file" * 64)
    with pytest.raises(ValueError, match=r"junk.nwb is not a readable NWB file"):
        from_nwb(junk, DT, stimuli=STIMS)
    with pytest.raises(FileNotFoundError, match=r"no NWB file at"):
        from_nwb(tmp_path / "absent.nwb", DT, stimuli=STIMS)
    with pytest.raises(ValueError, match=r"`paths` must name at least one NWB file"):
        from_nwb([], DT, stimuli=STIMS)
    with pytest.raises(ValueError, match=r"not a multiple of the hop 80"):
        from_nwb(good, DT, stimuli={"tone": np.zeros(100), "noise": np.zeros(80)}, audio_fs=16000)

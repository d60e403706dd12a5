"""verify() of every loader and `deepstrf datasets --verify`: each documented assumption and count is reported."""

from __future__ import annotations

import numpy as np
import scipy.io

from deepSTRF import cli
from deepSTRF.datasets import catalog
from deepSTRF.datasets.audio import crcns_aa1, crcns_ac1, nat4, ns1
from deepSTRF.datasets.verify import Check, VerificationReport


def test_every_catalogue_loader_has_verify():
    for entry in catalog.list_datasets():
        assert callable(getattr(catalog.get_loader(entry.name), "verify", None)), entry.name


def test_a_missing_copy_fails_with_the_loader_error(tmp_path):
    report = ns1.NS1Dataset.verify(tmp_path / "none")
    assert not report.ok and report.failed[0].name == "loader reads every file"
    assert "FileNotFoundError" in report.failed[0].detail and "MetadataSHEnCneurons.mat" in report.failed[0].detail


def test_fixtures_pass_structure_and_fail_only_on_counts(ns1_root, nat4_root, aa1_root, ac1_root):
    for loader, root in ((ns1.NS1Dataset, ns1_root), (crcns_aa1.CRCNSAA1Dataset, aa1_root),
                         (crcns_ac1.CRCNSAC1Dataset, ac1_root)):  # fmt: skip
        report = loader.verify(root)
        names = {c.name for c in report.failed}
        assert names and all(n.startswith("count ") or n == "no loader warning" for n in names), (loader, names)
    report = nat4.NAT4Dataset.verify(nat4_root)  # the fixture holds A1 only: PEG is reported missing
    loader_errors = [c.detail for c in report.failed if c.name == "loader reads every file"]
    assert len(loader_errors) == 1 and "PEG_NAT4_ozgf.fs100.ch18.tgz" in loader_errors[0]
    assert "count units_A1" in {c.name for c in report.failed}
    aa1 = crcns_aa1.CRCNSAA1Dataset.verify(aa1_root)
    assert "found 2, documented 50" in str(aa1) or "documented 50" in str(aa1)
    ok = {c.name for c in aa1.checks if c.ok}
    assert {"WAV sample rate 32 kHz", "WAV name = MD5 of the file", "loader reads every file"} <= ok


def test_verify_names_a_malformed_file(tmp_path, ac1_kit):
    root = ac1_kit.build(tmp_path / "ac1")
    cell = root / "crcns-ac1" / "wehr" / "Results" / "20030101-mw-001"
    scipy.io.savemat(cell / "20030101-mw-001-009.mat", {"x": np.ones((1, 1))})
    report = crcns_ac1.CRCNSAC1Dataset.verify(root)
    failed = {c.name: c.detail for c in report.failed}
    assert "20030101-mw-001-009.mat" in failed["no malformed recording"]


def test_cli_verify(aa4_root, capsys):
    assert cli.main(["datasets", "--verify", "crcns-aa4", "--root", str(aa4_root)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("crcns-aa4: ") and "FAIL  count units of GreBlu9508M: found 2, documented 355" in out
    assert "ok    sortType values" in out


def test_report_text():
    report = VerificationReport("x", [Check("a", True, "1"), Check("b", False, "2")])
    assert str(report).splitlines() == ["x: 1 of 2 checks passed", "ok    a: 1", "FAIL  b: 2"]
    report.counts({"units": 3}, {"units": 4, "stimuli": 2})
    assert [c.detail for c in report.failed][-2:] == ["found 3, documented 4", "found None, documented 2"]

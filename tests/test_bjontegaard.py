"""Bjøntegaard delta metrics."""

from __future__ import annotations

import numpy as np
import pytest

from ncodec.eval.bjontegaard import BDError, bd_metric, bd_psnr, bd_rate

RATE = [0.25, 0.5, 1.0, 2.0]
PSNR = [28.1, 31.0, 34.2, 37.9]


def test_curve_against_itself_is_zero():
    assert bd_rate(RATE, PSNR, RATE, PSNR) == pytest.approx(0, abs=1e-12)
    assert bd_psnr(RATE, PSNR, RATE, PSNR) == pytest.approx(0, abs=1e-12)


def test_ten_percent_fewer_bits_is_minus_ten_percent():
    assert bd_rate(RATE, PSNR, [r * 0.9 for r in RATE], PSNR) == pytest.approx(-10.0, abs=1e-9)
    assert bd_rate(RATE, PSNR, [r * 1.25 for r in RATE], PSNR) == pytest.approx(25.0, abs=1e-9)


def test_constant_quality_gain_is_bd_psnr():
    assert bd_metric(RATE, PSNR, RATE, [p + 0.5 for p in PSNR]) == pytest.approx(0.5, abs=1e-9)


def test_order_of_points_does_not_matter():
    perm = [2, 0, 3, 1]
    r2, p2 = [RATE[i] * 0.8 for i in perm], [PSNR[i] + 0.1 for i in perm]
    assert bd_rate(RATE, PSNR, r2, p2) == pytest.approx(bd_rate(RATE, PSNR, sorted(r2), sorted(p2)))


def test_published_example():
    """Four x265 RD points published with the FAU-LMS ``bjontegaard`` package (README, test 1;
    C. Herglotz et al., https://github.com/FAU-LMS/bjontegaard). Its PCHIP implementation is
    stated to match the JVET common-test-conditions Excel sheet (JVET-T2010) to 10 decimals;
    version 1.3.0 gives BD-rate -4.41749 % and BD-PSNR 0.11969 dB for these points."""
    rate_anchor = [9487.76, 4593.60, 2486.44, 1358.24]
    psnr_anchor = [40.037, 38.615, 36.845, 34.851]
    rate_test = [9787.80, 4469.00, 2451.52, 1356.24]
    psnr_test = [40.121, 38.651, 36.970, 34.987]
    assert bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test) == pytest.approx(-4.41749, rel=1e-3)
    assert bd_psnr(rate_anchor, psnr_anchor, rate_test, psnr_test) == pytest.approx(0.11969, rel=1e-3)


def test_no_overlap_is_a_clear_error():
    with pytest.raises(BDError, match="do not overlap"):
        bd_rate(RATE, PSNR, RATE, [p + 20 for p in PSNR])
    with pytest.raises(BDError, match="do not overlap"):
        bd_metric(RATE, PSNR, [r * 100 for r in RATE], PSNR)


@pytest.mark.parametrize("rates,metrics", [([1.0], [30.0]), ([1, 2], [30, 30]), ([0, 1], [30, 31]),
                                           ([1, np.nan], [30, 31]), ([1, 2, 3], [30, 31])])
def test_bad_curves(rates, metrics):
    with pytest.raises(BDError):
        bd_rate(rates, metrics, RATE, PSNR)

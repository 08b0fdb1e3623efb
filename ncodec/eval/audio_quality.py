"""Audio quality metrics with codec delay compensated.

Codecs add a delay (encoder look-ahead, priming) that ncodec's wrappers remove, but any
residual shift would wreck sample-wise metrics, so :func:`align` first finds the lag that
maximises the cross-correlation (FFT, within ``max_lag_s``) and compares the overlapping
parts only.

* ``snr`` -- ``10 log10(|x|^2 / |x - y|^2)``.
* ``si_sdr`` -- scale-invariant SDR (Le Roux et al. 2019): with zero-mean signals,
  ``t = (<y, x> / |x|^2) x`` and ``SI-SDR = 10 log10(|t|^2 / |y - t|^2)``.
* ``mel_distance`` -- multi-resolution log-mel spectral distance: mean absolute difference of
  ``log10(mel + 1e-5)`` over FFT sizes 512, 1024 and 2048 (hop n/4, Hann window, 80 HTK mel
  bands up to Nyquist); 0 for identical signals.
* ``stoi`` -- short-time objective intelligibility via ``pystoi`` (0..1).
* ``pesq`` -- wide-band PESQ (ITU-T P.862.2, MOS-LQO 1.0..4.64) via the ``pesq`` package, on
  both signals resampled to 16 kHz (the only rate P.862.2 defines); NaN when the reference has
  no speech for PESQ to find.
* ``dnsmos`` -- DNSMOS P.835 overall quality (Reddy et al. 2022; non-intrusive: the decoded
  signal alone, MOS 1..5): Microsoft's ONNX model as the ``speechmos`` wheel ships it, run with
  onnxruntime on one thread, on 16 kHz audio in 9.01 s windows a second apart (shorter clips
  repeated to fill one), each raw score mapped by DNSMOS's published polynomial and averaged.
  Only the model files come from ``speechmos`` (its own module needs librosa, which the P.835
  model does not).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from ncodec.media import Audio

MEL_FFTS = (512, 1024, 2048)
MEL_BANDS = 80


def _mono(x: Audio | np.ndarray) -> np.ndarray:
    s = x.samples if isinstance(x, Audio) else np.asarray(x)
    s = s.astype(np.float64)
    return s.mean(axis=0) if s.ndim == 2 else s


def find_delay(ref: np.ndarray, dist: np.ndarray, max_lag: int) -> int:
    """Lag ``d`` (samples) maximising ``sum ref[n] dist[n + d]``, ``|d| <= max_lag``."""
    n = ref.size + dist.size
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.conj(np.fft.rfft(ref, size)) * np.fft.rfft(dist, size), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([xc[: max_lag + 1], xc[size - max_lag:]])
    return int(lags[int(np.argmax(vals))])


def align(ref: Audio | np.ndarray, dist: Audio | np.ndarray, sample_rate: int,
          max_lag_s: float = 0.25) -> tuple[np.ndarray, np.ndarray, int]:
    """Mono, delay-compensated, equal-length versions of both signals and the delay found."""
    r, d = _mono(ref), _mono(dist)
    delay = find_delay(r, d, int(max_lag_s * sample_rate))
    if delay >= 0:
        d = d[delay:]
    else:
        r = r[-delay:]
    n = min(r.size, d.size)
    return r[:n], d[:n], delay


def snr(ref: np.ndarray, dist: np.ndarray) -> float:
    noise = float(np.sum((ref - dist) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(max(float(np.sum(ref ** 2)), 1e-30) / noise)


def si_sdr(ref: np.ndarray, dist: np.ndarray) -> float:
    x = ref - ref.mean()
    y = dist - dist.mean()
    energy = float(np.dot(x, x))
    if energy == 0:
        return math.nan
    t = (float(np.dot(y, x)) / energy) * x
    noise = float(np.sum((y - t) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(max(float(np.dot(t, t)), 1e-30) / noise)


def _mel_filterbank(sr: int, n_fft: int, bands: int) -> np.ndarray:
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    mels = np.linspace(0.0, hz_to_mel(sr / 2), bands + 2)
    hz = mel_to_hz(mels)
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((bands, freqs.size))
    for i in range(bands):
        lo, c, hi = hz[i], hz[i + 1], hz[i + 2]
        up = (freqs - lo) / max(c - lo, 1e-9)
        down = (hi - freqs) / max(hi - c, 1e-9)
        fb[i] = np.maximum(0.0, np.minimum(up, down))
    return fb


def log_mel(x: np.ndarray, sr: int, n_fft: int, bands: int = MEL_BANDS, hop: int | None = None) -> np.ndarray:
    """``log10(mel power + 1e-5)``, ``frames x bands`` (Hann window, hop ``n_fft / 4`` by default)."""
    hop = hop or n_fft // 4
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2
    return np.log10(spec @ _mel_filterbank(sr, n_fft, bands).T + 1e-5)


def mel_distance(ref: np.ndarray, dist: np.ndarray, sample_rate: int) -> float:
    return float(np.mean([np.mean(np.abs(log_mel(ref, sample_rate, n) - log_mel(dist, sample_rate, n)))
                          for n in MEL_FFTS]))


def stoi(ref: np.ndarray, dist: np.ndarray, sample_rate: int) -> float:
    from pystoi import stoi as _stoi

    return float(_stoi(ref, dist, sample_rate, extended=False))


PESQ_RATE = 16000


def pesq_wb(ref: np.ndarray, dist: np.ndarray, sample_rate: int) -> float:
    """Wide-band PESQ of aligned mono signals (see the module docstring)."""
    from pesq import NoUtterancesError, pesq

    from ncodec.media_io.audio import resample

    r, d = ref.astype(np.float32), dist.astype(np.float32)
    if sample_rate != PESQ_RATE:
        r = resample(r[None], sample_rate, PESQ_RATE)[0]
        d = resample(d[None], sample_rate, PESQ_RATE)[0]
    try:
        return float(pesq(PESQ_RATE, r.astype(np.float64), d.astype(np.float64), "wb"))
    except NoUtterancesError:
        return math.nan


DNSMOS_RATE, DNSMOS_WINDOW = 16000, 144_160  # 9.01 s
#: DNSMOS's mapping of the P.835 model's raw overall score to MOS (non-personalised)
DNSMOS_OVRL_POLY = (-0.06766283, 1.11546468, 0.04602535)


@functools.lru_cache(maxsize=1)
def _dnsmos_session():
    import importlib.util

    import onnxruntime as ort

    spec = importlib.util.find_spec("speechmos")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("DNSMOS needs the speechmos wheel (its ONNX models): pip install speechmos onnxruntime")
    model = Path(list(spec.submodule_search_locations)[0]) / "dnsmos_models" / "sig_bak_ovr.onnx"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def dnsmos(dist: np.ndarray, sample_rate: int) -> float:
    """DNSMOS P.835 OVRL of a mono signal (see the module docstring)."""
    from ncodec.media_io.audio import resample

    x = dist.astype(np.float32)
    if sample_rate != DNSMOS_RATE:
        x = resample(x[None], sample_rate, DNSMOS_RATE)[0]
    x = np.clip(x, -1.0, 1.0)
    if not x.size or not np.any(x):
        return math.nan
    while len(x) < DNSMOS_WINDOW:
        x = np.concatenate([x, x])
    session = _dnsmos_session()
    hops = int(np.floor(len(x) / DNSMOS_RATE - DNSMOS_WINDOW / DNSMOS_RATE)) + 1
    raw = [session.run(None, {"input_1": x[i * DNSMOS_RATE:i * DNSMOS_RATE + DNSMOS_WINDOW][None]})[0][0][2]
           for i in range(hops)]
    return float(np.mean(np.poly1d(DNSMOS_OVRL_POLY)(np.asarray(raw, np.float64))))


def audio_metrics(ref: Audio, dist: Audio, with_stoi: bool = True) -> dict[str, float]:
    """All audio metrics after delay compensation; ``delay_samples`` reports the shift found."""
    r, d, delay = align(ref, dist, ref.sample_rate)
    out = {"snr": snr(r, d), "si_sdr": si_sdr(r, d), "mel_distance": mel_distance(r, d, ref.sample_rate),
           "delay_samples": float(delay)}
    if with_stoi:
        out["stoi"] = stoi(r, d, ref.sample_rate)
        out["pesq"] = pesq_wb(r, d, ref.sample_rate)
    return out

"""The training objectives of the learned audio codecs.

``L = R + lambda * D`` per clip, with the rate ``R`` in kbit/s (bits of every latent divided by
the clip's duration) and the distortion

    D = mean over FFT sizes n in (256, 512, 1024, 2048) of
          [ mean |log10(|X_n| + eps) - log10(|X^_n| + eps)|  +  || |X_n| - |X^_n| ||_F / || |X_n| ||_F ]
        + w * mean |x - x^| / mean |x|

a multi-resolution STFT term (Hann window, hop n / 4; log-magnitude L1 for what is heard at
every level, spectral convergence for the loud parts) and a waveform L1 relative to the clip's
own level (phase: PESQ and STOI need the waveform right, not only its spectrum). Both are
independent of the clip's gain, as the training crops' levels vary by 18 dB. ``eps = 1e-4``
is about 100 dB below a full-scale sine at n = 1024, below anything audible after playback.
"""

from __future__ import annotations

import torch

FFT_SIZES = (256, 512, 1024, 2048)
EPS = 1e-4


def _magnitude(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    return torch.stft(x, n_fft, hop_length=n_fft // 4, window=window, return_complex=True).abs()


def spectral_distortion(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-clip multi-resolution STFT distortion (``B``) of ``B x T`` waveforms."""
    total = x.new_zeros(x.shape[0])
    for n in FFT_SIZES:
        m, m_hat = _magnitude(x, n), _magnitude(x_hat, n)
        log_l1 = (torch.log10(m + EPS) - torch.log10(m_hat + EPS)).abs().flatten(1).mean(1)
        sc = (m - m_hat).flatten(1).norm(dim=1) / m.flatten(1).norm(dim=1).clamp_min(EPS)
        total = total + log_l1 + sc
    return total / len(FFT_SIZES)


def waveform_distortion(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-clip ``mean |x - x^| / mean |x|``."""
    return (x_hat - x).abs().mean(1) / x.abs().mean(1).clamp_min(EPS)


def rd_loss(out: dict, x: torch.Tensor, lmbda: torch.Tensor, sample_rate: int,
            waveform_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Batch mean of ``R + lambda D`` and the per-batch means of its parts (detached):
    ``kbps``, ``spectral``, ``waveform``."""
    seconds = x.shape[-1] / sample_rate
    bits = sum(-torch.log2(lik).flatten(1).sum(1) for lik in out["likelihoods"].values())
    kbps = bits / seconds / 1000.0
    spec = spectral_distortion(out["x_hat"], x)
    wave = waveform_distortion(out["x_hat"], x)
    loss = (kbps + lmbda * (spec + waveform_weight * wave)).mean()
    return loss, {"kbps": kbps.mean().detach(), "spectral": spec.mean().detach(), "waveform": wave.mean().detach()}


def token_loss(out: dict, x: torch.Tensor, sample_rate: int, waveform_weight: float = 1.0,
               commit_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The token codec's objective: ``D + commit_weight * commitment + bits / fixed-length bits``.

    The rate is fixed by the number of codebooks, so the distortion has no Lagrangian; the token
    prior learns from the (detached) tokens its own cross-entropy, here as a fraction of the
    fixed-length indices' bits so that its gradients have the distortion's scale (the two
    share the gradient-norm clip). Parts: ``kbps`` (under the prior), ``fixed_kbps``,
    ``spectral``, ``waveform``."""
    seconds = x.shape[-1] / sample_rate
    spec = spectral_distortion(out["x_hat"], x)
    wave = waveform_distortion(out["x_hat"], x)
    ratio = out["token_bits"] / out["fixed_bits"].clamp_min(1.0)
    loss = (spec + waveform_weight * wave).mean() + commit_weight * out["commit"] + ratio.mean()
    return loss, {"kbps": (out["token_bits"] / seconds / 1000).mean().detach(),
                  "fixed_kbps": (out["fixed_bits"] / seconds / 1000).mean().detach(),
                  "spectral": spec.mean().detach(), "waveform": wave.mean().detach()}

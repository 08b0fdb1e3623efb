"""The shared entropy layer: exact round trips, rate honesty, determinism, format stability."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from ncodec.entropy import (
    CODERS,
    AdaptiveModel,
    CategoricalPrior,
    ConditionalPrior,
    Decoder,
    Encoder,
    FactorizedPrior,
    GaussianMixturePrior,
    TableSet,
    ZeroInflatedPrior,
    quantize,
    quantize_pmf,
)
from ncodec.entropy.tables import TOTAL
from ncodec.errors import CorruptStreamError

FAR = [2**40, -(2**40), 10**6, -(10**6), 2**62 - 7]  # far outside every table


def roundtrip(coder, encode, decode):
    enc = Encoder(coder)
    encode(enc)
    data = enc.finish()
    dec = Decoder(data, coder)
    out = decode(dec)
    assert dec.exhausted()
    return data, out


# ---------------------------------------------------------------------------- tables
def test_quantize_pmf_is_exact_and_keeps_every_symbol():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.full(300, 0.05), size=50)
    p[:, 7] = 0.0
    f = quantize_pmf(p)
    assert f.dtype == np.int64 and (f.sum(-1) == TOTAL).all() and f.min() >= 1
    # close to the float distribution: KL below 1e-4 bits
    q = f / TOTAL
    kl = (p * np.log2(np.where(p > 0, p / q, 1))).sum(-1)
    assert kl.max() < 1e-4


def test_tableset_rejects_bad_tables():
    with pytest.raises(ValueError):
        TableSet([np.array([1, 2, 3])], np.array([0]))


# ---------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("coder", CODERS)
@pytest.mark.parametrize("distribution", ["gaussian", "laplace", "logistic"])
def test_conditional_roundtrip_with_tails(coder, distribution):
    rng = np.random.default_rng(2)
    n = 20_000
    prior = ConditionalPrior(distribution)
    scales = np.exp(rng.uniform(np.log(0.05), np.log(400), n))  # beyond the table on both ends
    means = rng.normal(0, 50, n)
    x = np.rint(means + scales * rng.standard_normal(n)).astype(np.int64)
    x[: len(FAR)] = FAR
    for m in (means, None):
        _, out = roundtrip(coder, lambda e: prior.encode(e, x, scales, m), lambda d: prior.decode(d, scales, m))
        np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("coder", CODERS)
def test_factorized_roundtrip_with_tails(coder):
    torch.manual_seed(0)
    prior = FactorizedPrior(6)
    y = torch.randn(2, 6, 9, 7) * torch.tensor([0.1, 1, 3, 10, 30, 100]).view(1, -1, 1, 1)
    sym = prior.to_symbols(y)
    sym[0, 0, 0, :5] = FAR
    _, out = roundtrip(coder, lambda e: prior.encode(e, sym), lambda d: prior.decode(d, shape=sym.shape))
    np.testing.assert_array_equal(out, sym)
    # decoded symbols map back to compressai's own dequantized values
    ref, _ = prior(y, training=False)
    got = prior.from_symbols(prior.to_symbols(y))
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-5)


def test_factorized_tables_follow_parameter_updates():
    prior = FactorizedPrior(2)
    t1 = prior.coding_tables()
    assert prior.coding_tables() is t1  # cached while parameters are unchanged
    with torch.no_grad():
        prior.bottleneck.quantiles[:, 0, 2] += 5.0
    assert prior.coding_tables() is not t1


@pytest.mark.parametrize("coder", CODERS)
def test_mixture_roundtrip_with_tails(coder):
    rng = np.random.default_rng(3)
    n, k = 5000, 3
    lw, mu = rng.normal(0, 2, (n, k)), rng.normal(0, 20, (n, k))
    s = np.exp(rng.uniform(np.log(0.05), np.log(50), (n, k)))
    x = np.rint(mu[:, 0] + s[:, 0] * rng.standard_normal(n)).astype(np.int64)
    x[: len(FAR)] = FAR
    prior = GaussianMixturePrior()
    _, out = roundtrip(coder, lambda e: prior.encode(e, x, s, mu, lw), lambda d: prior.decode(d, s, mu, lw))
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("coder", CODERS)
def test_categorical_roundtrip_including_improbable_tokens(coder):
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 4, (3000, 257))
    logits[:, 5] = -60.0  # (almost) impossible token, still codable
    tokens = rng.integers(0, 257, 3000)
    tokens[:10] = 5
    prior = CategoricalPrior()
    _, out = roundtrip(coder, lambda e: prior.encode(e, tokens, logits), lambda d: prior.decode(d, logits))
    np.testing.assert_array_equal(out, tokens)
    with pytest.raises(ValueError):
        prior.encode(Encoder(coder), np.array([257]), logits[:1])


@pytest.mark.parametrize("coder", CODERS)
def test_adaptive_roundtrip_and_adapts(coder):
    rng = np.random.default_rng(5)
    x = rng.choice(16, size=50_000, p=np.r_[0.7, np.full(15, 0.02)])
    x[:5] = [100, -100, 2**40, -(2**40), 17]
    model = AdaptiveModel(0, 15)
    data, out = roundtrip(coder, lambda e: model.encode(e, x), lambda d: model.decode(d, shape=x.size))
    np.testing.assert_array_equal(out, x)
    p = np.bincount(x[5:], minlength=16) / (x.size - 5)
    entropy_bits = -(p[p > 0] * np.log2(p[p > 0])).sum() * x.size
    assert len(data) * 8 < 1.01 * entropy_bits + 2000  # learns the skew, small learning cost


def test_mixed_priors_in_one_stream_keep_their_order():
    rng = np.random.default_rng(6)
    fact = FactorizedPrior(3)
    cond = ConditionalPrior("laplace")
    adap = AdaptiveModel(-4, 4)
    a = fact.to_symbols(torch.randn(1, 3, 5, 5) * 4)
    scales = rng.uniform(0.5, 5, 100)
    b = np.rint(rng.laplace(0, scales)).astype(np.int64)
    c = rng.integers(-4, 5, 77)
    for coder in CODERS:
        enc = Encoder(coder)
        fact.encode(enc, a)
        cond.encode(enc, b, scales)
        adap.encode(enc, c)
        dec = Decoder(enc.finish(), coder)
        np.testing.assert_array_equal(fact.decode(dec, shape=a.shape), a)
        np.testing.assert_array_equal(cond.decode(dec, scales), b)
        np.testing.assert_array_equal(adap.decode(dec, shape=c.size), c)


# ---------------------------------------------------------------------------- rate honesty
@pytest.mark.parametrize("coder", CODERS)
def test_rate_honesty_one_million_gaussian_symbols(coder):
    """Coded length within 0.5 % + 32 bytes of -sum log2 p under the exact continuous model."""
    rng = np.random.default_rng(7)
    n = 1_000_000
    prior = ConditionalPrior("gaussian")
    scales = np.exp(rng.uniform(np.log(0.2), np.log(40), n))
    means = rng.normal(0, 10, n)
    x = np.rint(rng.normal(means, scales)).astype(np.int64)
    enc = Encoder(coder)
    prior.encode(enc, x, scales, means)
    nbytes = len(enc.finish())
    exact = prior.exact_bits(x, scales, means) / 8
    tables = prior.bits(x, scales, means) / 8
    assert nbytes <= exact * 1.005 + 32, (nbytes, exact)
    assert nbytes <= tables * 1.001 + 32, (nbytes, tables)  # the coder itself adds <= 0.1 %
    assert nbytes >= tables * 0.999 - 32  # and the estimate is not a loose bound


def test_rate_honesty_factorized_and_categorical():
    torch.manual_seed(1)
    fact = FactorizedPrior(4)
    y = torch.randn(1, 4, 250, 250) * 3
    sym = fact.to_symbols(y)
    enc = Encoder()
    fact.encode(enc, sym)
    nbytes = len(enc.finish())
    _, lik = fact(y, training=False)
    exact = float(-torch.log2(lik.detach()).sum()) / 8
    assert abs(nbytes - exact) <= 0.005 * exact + 32, (nbytes, exact)

    rng = np.random.default_rng(8)
    logits = rng.normal(0, 3, (100_000, 64))
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    tokens = (p.cumsum(-1) > rng.random((100_000, 1))).argmax(-1)
    cat = CategoricalPrior()
    enc = Encoder()
    cat.encode(enc, tokens, logits)
    nbytes = len(enc.finish())
    exact = cat.exact_bits(tokens, logits) / 8
    assert abs(nbytes - exact) <= 0.005 * exact + 32, (nbytes, exact)


# ---------------------------------------------------------------------------- training side
def test_quantization_modes():
    y = torch.tensor([0.2, 1.7, -2.5], requires_grad=True)
    assert torch.equal(quantize(y, "round"), torch.round(y))
    q = quantize(y, "ste")
    q.sum().backward()
    assert torch.equal(y.grad, torch.ones(3))
    n = quantize(torch.zeros(10000), "noise")
    assert n.abs().max() <= 0.5 and n.std() > 0.25
    m = torch.tensor([0.3, 0.3, 0.3])
    assert torch.allclose(quantize(y.detach(), "round", m), torch.round(y.detach() - m) + m)


def test_likelihoods_sum_to_one_and_match_tables():
    k = torch.arange(-300, 301).float()
    for d in ("gaussian", "laplace", "logistic"):
        prior = ConditionalPrior(d)
        lik = prior.likelihood(k, torch.full_like(k, 3.0), torch.full_like(k, 0.25))
        assert abs(float(lik.sum()) - 1) < 1e-5
    mix = GaussianMixturePrior()
    lw = torch.zeros(601, 2)
    lik = mix.likelihood(k, torch.tensor([[1.0, 3.0]]).expand(601, 2), torch.tensor([[-5.0, 7.0]]).expand(601, 2), lw)
    assert abs(float(lik.sum()) - 1) < 1e-5
    # gradients flow through the likelihood to the scales
    s = torch.tensor([2.0], requires_grad=True)
    ConditionalPrior().likelihood(torch.tensor([0.0]), s).log().sum().backward()
    assert s.grad is not None and s.grad.item() < 0


def test_a_scale_below_the_bound_still_learns_to_rise_but_not_to_fall():
    prior = ConditionalPrior()  # scale_min 0.11
    # the value 1 under mean 0 wants a larger scale: the gradient reaches the out-of-range output
    s = torch.tensor([-5.0], requires_grad=True)
    (-prior.likelihood(torch.tensor([1.0]), s).log()).sum().backward()
    assert s.grad.item() < 0
    # the value 0 is best served by the smallest scale: nothing pushes the output further down
    s = torch.tensor([-5.0], requires_grad=True)
    (-prior.likelihood(torch.tensor([0.0]), s).log()).sum().backward()
    assert s.grad.item() == 0
    # the forward value is the bound either way, so coding is unchanged
    assert torch.equal(prior.likelihood(torch.tensor([3.0]), torch.tensor([-5.0])),
                       prior.likelihood(torch.tensor([3.0]), torch.tensor([0.11])))


# ---------------------------------------------------------------------------- corruption
def test_bad_streams_raise_ncodec_errors():
    with pytest.raises(CorruptStreamError):
        Decoder(b"\x01\x02\x03")  # not whole words
    with pytest.raises(CorruptStreamError):
        Decoder(b"\x00\x00\x00\x00", "ans")  # an ANS stream never ends in a zero word


# ---------------------------------------------------------------------------- determinism
_PROGRAM = textwrap.dedent("""
    import hashlib, json, sys
    import numpy as np, torch
    from safetensors.torch import load_file
    from ncodec.entropy import *
    torch.set_num_threads(int(sys.argv[1]))
    rng = np.random.default_rng(11)
    fact = FactorizedPrior(8)
    fact.load_state_dict(load_file(sys.argv[2]))
    y = torch.from_numpy(rng.standard_normal((2, 8, 24, 24)).astype(np.float32)) * 5
    n = 4000
    scales = np.exp(rng.uniform(-2, 5, n)); means = rng.normal(0, 9, n)
    lw, mu, s = rng.normal(0, 1, (n, 3)), rng.normal(0, 9, (n, 3)), np.exp(rng.uniform(-2, 3, (n, 3)))
    logits = rng.normal(0, 3, (n, 100))
    cond, mix, cat, adap = ConditionalPrior("logistic"), GaussianMixturePrior(), CategoricalPrior(), AdaptiveModel(0, 99)
    if sys.argv[3] == "encode":
        sym = fact.to_symbols(y)
        xs = np.rint(rng.normal(means, scales)).astype(np.int64)
        toks = rng.integers(0, 100, n)
        enc = Encoder()
        fact.encode(enc, sym); cond.encode(enc, xs, scales, means); mix.encode(enc, xs, s, mu, lw)
        cat.encode(enc, toks, logits); adap.encode(enc, toks)
        sys.stdout.buffer.write(enc.finish())
    else:
        dec = Decoder(sys.stdin.buffer.read())
        parts = [fact.decode(dec, shape=(2, 8, 24, 24)), cond.decode(dec, scales, means), mix.decode(dec, s, mu, lw),
                 cat.decode(dec, logits), adap.decode(dec, shape=n)]
        print(json.dumps([hashlib.md5(p.astype(np.int64).tobytes()).hexdigest() for p in parts]))
""")


def test_decode_is_bit_exact_across_thread_counts(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(3)
    fact = FactorizedPrior(8)
    with torch.no_grad():  # a trained-looking, non-default density
        for p in fact.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    weights = tmp_path / "fact.safetensors"
    save_file({k: v.contiguous() for k, v in fact.state_dict().items()}, str(weights))
    prog = tmp_path / "prog.py"
    prog.write_text(_PROGRAM)
    run = lambda threads, mode, data=b"": subprocess.run(  # noqa: E731
        [sys.executable, str(prog), str(threads), str(weights), mode], input=data,
        capture_output=True, check=True).stdout
    data1 = run(1, "encode")
    data4 = run(4, "encode")
    assert data1 == data4  # encoding is thread-independent too
    assert run(1, "decode", data1) == run(3, "decode", data1)


def test_bitstream_regression_md5():
    """The coded bytes for fixed inputs never change unnoticed (a format change must bump versions)."""
    rng = np.random.default_rng(12)
    n = 5000
    scales = np.exp(rng.uniform(-2, 4, n))
    x = np.rint(rng.normal(0, scales)).astype(np.int64)
    x[0] = 2**33
    digests = {}
    for coder in CODERS:
        enc = Encoder(coder)
        ConditionalPrior("gaussian").encode(enc, x, scales)
        AdaptiveModel(-8, 8).encode(enc, np.clip(x, -12, 12))
        digests[coder] = hashlib.md5(enc.finish()).hexdigest()
    assert digests == EXPECTED_MD5, json.dumps(digests)


EXPECTED_MD5 = {"ans": "f1cfc851c28de5291f9b4dd449966e27", "range": "ef8b1c1946ba94b8001c3e79b79e1888"}


# ---------------------------------------------------------------------- one protocol
PRIORS = [ConditionalPrior("gaussian"), GaussianMixturePrior(), CategoricalPrior(), FactorizedPrior(4),
          AdaptiveModel(0, 9), ZeroInflatedPrior(15)]


@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: type(p).__name__)
def test_every_prior_follows_one_protocol(prior):
    """likelihood / encode / bits take the same parameters, in the same order, that decode takes
    before its keyword-only shape."""
    import inspect

    from ncodec.entropy.prior import Prior

    assert isinstance(prior, Prior)

    def params(method, skip):
        sig = inspect.signature(method)
        return [n for n, p in list(sig.parameters.items())[skip:] if p.kind is p.POSITIONAL_OR_KEYWORD]

    decode = inspect.signature(prior.decode).parameters
    assert "shape" in decode and decode["shape"].kind is inspect.Parameter.KEYWORD_ONLY
    fixed = params(prior.decode, 1)
    assert params(prior.encode, 2) == fixed and params(prior.bits, 1) == fixed
    assert params(prior.likelihood, 1) == fixed


def test_parameter_free_priors_decode_the_shape_they_are_told_and_give_likelihoods():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 10, (3, 5))
    model = AdaptiveModel(0, 9)
    enc = Encoder()
    model.encode(enc, x)
    out = model.decode(Decoder(enc.finish()), shape=x.shape)
    assert out.shape == x.shape and np.array_equal(out, x)
    lik = model.likelihood(x)
    assert lik.shape == x.shape and abs(-np.log2(lik.numpy()).sum() - model.bits(x)) < 1e-6
    zi = ZeroInflatedPrior(15)
    groups = [rng.integers(-3, 4, 40), rng.integers(-1, 2, 9)]
    params = [zi.fit(g) for g in groups]
    liks = zi.likelihood(groups, params)
    assert abs(sum(-np.log2(p.numpy()).sum() for p in liks) - zi.bits(groups, params)) < 0.5
    with pytest.raises(ValueError, match="does not match"):
        ConditionalPrior("gaussian").decode(Decoder(b"\x01\x00\x00\x00"), np.ones((2, 2)), shape=(3,))


def test_hyperprior_latent_codec_codes_audio_shaped_latents_exactly():
    """The composed hyper + Gaussian latent codec works on N x C x T (audio) as on images."""
    from torch import nn

    from ncodec.entropy.gaussian_latent import GaussianConditionalLatent
    from ncodec.entropy.hyperprior_latent import HyperLatentCodec, HyperpriorLatentCodec

    torch.manual_seed(0)
    h_s = nn.Sequential(nn.ConvTranspose1d(8, 8, 4, 2, 1), nn.ReLU(), nn.Conv1d(8, 2 * 16, 3, 1, 1))
    coding = HyperpriorLatentCodec(HyperLatentCodec(FactorizedPrior(8), h_s),
                                   GaussianConditionalLatent(ConditionalPrior("gaussian"), mean=True))
    y, z = 4 * torch.randn(1, 16, 50), 3 * torch.randn(1, 8, 25)
    with torch.no_grad():
        sym = coding.symbols(y, z)
        data = coding.encode(sym, "range")
        out, y_hat = coding.decode(data, {k: list(v.shape) for k, v in sym.items()}, "range")
        assert all(np.array_equal(out[k], sym[k]) for k in sym)
        assert torch.equal(y_hat, coding.dequantize(sym))
        assert (y_hat - y).abs().max() <= 0.5 + 1e-5
        assert abs(8 * len(data) - coding.bits(sym)) < 64 + 0.01 * 8 * len(data)

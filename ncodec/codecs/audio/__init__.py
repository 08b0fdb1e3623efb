"""Learned audio codecs: the wavelet-packet transform and the wavelet hyperprior model (codec, training and weights to come)."""

"""Learned audio codecs (issue 20, in progress): the wavelet-packet transform so far."""

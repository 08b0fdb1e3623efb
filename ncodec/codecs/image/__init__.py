"""Learned image codecs: one file per model family, all coding through ``ncodec.entropy``."""

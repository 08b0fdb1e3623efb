"""NeRV-family video codecs: the stream is a network fitted to the video (models, bitstream, fitting, codec)."""

"""Classical codecs run for real: Pillow (image) and PyAV's FFmpeg (video, audio)."""

"""ncodec.datasets."""

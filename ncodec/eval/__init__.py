"""ncodec.eval."""

"""ncodec.inr."""

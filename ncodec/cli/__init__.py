"""ncodec.cli."""

"""The shipped model weights (safetensors); provenance in README.md beside them."""

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent

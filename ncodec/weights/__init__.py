"""The shipped model weights (safetensors); provenance in README.md beside them.

:func:`metadata` reads a weights file's ncodec metadata (config, provenance, the SHA-256 of its
tensors as a codec hashes them) from the safetensors header alone, without torch, for
``ncodec info``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

WEIGHTS_DIR = Path(__file__).resolve().parent
MAX_HEADER_BYTES = 16 << 20


def metadata(path: Path) -> Optional[dict[str, Any]]:
    """The ``ncodec`` metadata of a safetensors file, or None when it has none or is not one."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n <= MAX_HEADER_BYTES:
                return None
            header = json.loads(f.read(n))
        info = json.loads(header.get("__metadata__", {}).get("ncodec", "null"))
    except (OSError, ValueError, AttributeError):
        return None
    return info if isinstance(info, dict) else None

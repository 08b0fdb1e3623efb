"""Compressed-domain learning: models that learn from a learned codec's latents, not from
pixels or samples (after WaLLoC and the Entropic Student).

:func:`features` gives one item's latents as a float tensor, from a stream (entropy decoding
only) or from media (analysis only); :class:`LatentDataset` is a ``torch.utils.data.Dataset``
over files that codes each item once into an on-disk cache of ``.ncd`` streams.
"""

from ncodec.learning.dataset import LatentDataset
from ncodec.learning.features import features

__all__ = ["LatentDataset", "features"]

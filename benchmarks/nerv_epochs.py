"""HNeRV on one dev clip (64 frames, long side 320) at 0.1 bpp for a given number of epochs: bpp, Y-PSNR, seconds.

Used for the epochs row of BENCHMARKS.md (issue 6): .venv/bin/python benchmarks/nerv_epochs.py
"""
import time, torch, json
torch.set_num_threads(1)
from ncodec.datasets.io import read_video
from ncodec.codecs import get
from ncodec.container import Container
from ncodec.eval.metrics import video_psnr
v = read_video("../shared/data/video/basketball_426x240.mp4", max_frames=64, max_side=320)
for ep in (300,):
    c = get("hnerv", epochs=str(ep))
    t = time.time(); data = c.encode(v, 0.1); sec = time.time() - t
    cont = Container.from_bytes(data)
    print(json.dumps({"epochs": ep, "bpp": 8 * len(data) / v.num_pixels, "y_psnr": cont.params["fit"]["y_psnr"], "seconds": sec}), flush=True)

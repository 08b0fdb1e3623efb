# The second device call (the run that produced the weights), as sent, one line split here for reading.
# .gpu/ (ignored, carried) held the compressai 1.2.8, constriction 0.5.0 and pytorch-msssim 1.0.0
# cp312 wheels, all 87 images of train_misc (as .gpu/data/misc), every fifth of train_bsds500
# (100 images, .gpu/data/bsds) and the first 8 of classic/usc_sipi_misc (.gpu/data/val): 27.5 MB,
# what fits beside the 37.7 MB working tree in one call's 64 MiB.
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
export PYTHONPATH=/tmp/site:$PWD
rm -rf /tmp/run2; L=$OUT/main.log; date +%s > $L
timeout -s TERM 440 python3 -m ncodec.cli.main train image --arch checkerboard \
    --init ncodec/weights/checkerboard.safetensors --batch 16 --crop 256 --lr 1e-4 --device cuda --no-progress \
    --data .gpu/data/misc .gpu/data/bsds --val-data .gpu/data/val --steps 11000 --checkpoint-minutes 1 \
    --val-every 500 --out /tmp/run2 >> $L 2>&1
echo "exit $? $(date +%s)" >> $L
cp /tmp/run2/log.csv /tmp/run2/config.json $OUT/
python3 -m ncodec.cli.main train export /tmp/run2 /tmp/w.safetensors >> $L 2>&1 && split -b 14000000 -d /tmp/w.safetensors $OUT/w32.part
sha256sum /tmp/w.safetensors >> $L; cat $L

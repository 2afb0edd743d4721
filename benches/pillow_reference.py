#!/usr/bin/env python3
"""Reference thumbnailer for `cargo bench --bench pipeline`: the same resize, done with Pillow.

Usage: pillow_reference.py INPUT OUTDIR RUNS

After one untimed warm-up run, each of RUNS timed runs opens INPUT, applies the EXIF orientation
(`ImageOps.exif_transpose`), and writes two JPEG renditions (quality 85, the source ICC profile embedded when there is one) into a fresh
subdirectory of OUTDIR:

- `large.jpg`: long side 2048, LANCZOS, from the full decoded image;
- `small.jpg`: long side 640, LANCZOS, from the large rendition (as peerpx does).

Nothing else is done: no EXIF summary, no stripped original, no blurhash, no fsync. The full image
is decoded (no `Image.draft` DCT downscaling), as peerpx decodes it.

Output, one `key value` pair per line, parsed by benches/pipeline.rs:

    pillow_version 11.0.0
    run_seconds 0.41234        (one line per timed run)
    baseline_kib 23456         (peak RSS after importing PIL, before the warm-up)
    peak_kib 187654            (peak RSS after the last run)
    maxrss_kib 23456 187654    (ru_maxrss at the same two points, for information)

Peak RSS is `VmHWM` from /proc/self/status, not `ru_maxrss`: on Linux, ru_maxrss survives
execve and so starts at the peak of the process that spawned this one (the Rust bench, which has
just run the pipeline itself), while VmHWM belongs to this process's own address space. Where
/proc is missing, ru_maxrss (KiB on Linux) is used.
"""

import os
import resource
import sys
import time

from PIL import Image, ImageOps
import PIL

LARGE_SIDE = 2048
SMALL_SIDE = 640
QUALITY = 85


def scaled(img, side):
    """Long side `side`, never upscaled, LANCZOS."""
    w, h = img.size
    long_side = max(w, h)
    if long_side <= side:
        return img
    if w >= h:
        size = (side, max(1, round(h * side / w)))
    else:
        size = (max(1, round(w * side / h)), side)
    return img.resize(size, Image.Resampling.LANCZOS)


def save(img, path, icc):
    kwargs = {"quality": QUALITY}
    if icc:
        kwargs["icc_profile"] = icc
    img.save(path, "JPEG", **kwargs)


def one_run(src, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with Image.open(src) as im:
        icc = im.info.get("icc_profile")
        upright = ImageOps.exif_transpose(im)
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        large = scaled(upright, LARGE_SIDE)
        save(large, os.path.join(out_dir, "large.jpg"), icc)
        small = scaled(large, SMALL_SIDE)
        save(small, os.path.join(out_dir, "small.jpg"), icc)


def peak_rss_kib():
    """Peak resident set of this process, KiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: pillow_reference.py INPUT OUTDIR RUNS")
    src, out, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(f"pillow_version {PIL.__version__}", flush=True)
    baseline = peak_rss_kib()
    baseline_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    one_run(src, os.path.join(out, "warmup"))  # untimed, as the Rust side does
    for i in range(runs):
        t0 = time.perf_counter()
        one_run(src, os.path.join(out, f"run{i}"))
        print(f"run_seconds {time.perf_counter() - t0:.6f}", flush=True)
    peak = peak_rss_kib()
    peak_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"baseline_kib {baseline}")
    print(f"peak_kib {peak}")
    print(f"maxrss_kib {baseline_maxrss} {peak_maxrss}")


if __name__ == "__main__":
    main()

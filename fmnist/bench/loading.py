"""Group `data`: parsing the IDX files without a cache, and loading the notebook split from the cache."""
from __future__ import annotations

from fmnist import data
from fmnist.bench.measure import Figure, Target, repeat

CACHE_TARGET_S = 0.3  # all 70,000 images; every page and worker starts with this load


def run(ctx) -> list[Figure]:
    settings, reps = ctx.settings, ctx.plan.reps
    files = data.find_files(settings)
    figures = []
    if files is None:
        ctx.skip("data.parse_idx", "no IDX files on this machine (the cache came from the Keras download)")
    else:
        parse = repeat(lambda: data.read_files(files), reps)
        figures.append(Figure("data.parse_idx", "parse the 4 IDX files (gunzip, check headers)", "s", parse,
                              note=f"from {files['train_images'].parent}; the OS file cache is warm after the first"))
    data.load_split(settings)  # builds the cache if this workspace has none yet
    load = repeat(lambda: data.load_split(settings), reps)
    figures.append(Figure("data.load_cache", "load the split from the .npz cache (70,000 images)", "s", load,
                          Target("<", CACHE_TARGET_S), note=f"{data.cache_path(settings).stat().st_size / 1e6:.0f} MB "
                                                           "uncompressed npz"))
    return figures

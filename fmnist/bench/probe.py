"""A fresh process that times bare fits under given TensorFlow threading settings, which cannot change
once TensorFlow has started: `python -m fmnist.bench.probe '{"intra": 1, "inter": 1, "workloads": [...]}'`.

Prints one JSON line: per workload, the median later-epoch seconds, the final validation accuracy and a
SHA-256 of the trained weights (equal digests: the setting did not change the result at all)."""
from __future__ import annotations

import hashlib
import json
import sys


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    import tensorflow as tf

    if spec.get("intra"):
        tf.config.threading.set_intra_op_parallelism_threads(spec["intra"])
    if spec.get("inter"):
        tf.config.threading.set_inter_op_parallelism_threads(spec["inter"])

    from fmnist import data, presets, settings
    from fmnist.bench.fits import bare_fit, subset
    from fmnist.bench.measure import later_epochs

    split = data.load_split(settings.load())
    out = {}
    for key, train_n, val_n, epochs in spec["workloads"]:
        fit = bare_fit(presets.config_for(key, epochs=epochs), subset(split, train_n, val_n, val_n))
        out[key] = {"seconds": later_epochs(fit.epoch_seconds), "val_acc": fit.val_acc[-1],
                    "weights": digest(fit.model)}
    print(json.dumps(out))
    return 0


def digest(model) -> str:
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(w.tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

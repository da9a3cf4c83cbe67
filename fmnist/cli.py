"""The command line: the same functions the pages call."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from fmnist.bench import GROUP_NAMES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fmnist", description="Fashion-MNIST Lab")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("presets", help="the presets with their parameter counts")
    t = sub.add_parser("train", help="train one preset, recorded in the store")
    t.add_argument("preset")
    _hyper_options(t)
    t.add_argument("--background", action="store_true", help="queue it and return at once")
    r = sub.add_parser("runs", help="the summary table")
    r.add_argument("--csv", metavar="FILE")
    r.add_argument("--limit", type=int, default=50)
    s = sub.add_parser("stop", help="stop a run")
    s.add_argument("run_id", type=int)
    rep = sub.add_parser("reproduce", help="every notebook preset, beside the notebook's figures")
    rep.add_argument("--limit", type=int, metavar="N", help="at most N epochs a run (a quick look)")
    rep.add_argument("--subset", type=int, metavar="N", help="train on N images instead of 42,000")
    rep.add_argument("--presets", nargs="+", metavar="KEY")
    st = sub.add_parser("setup", help="install the dataset (and with --tests a browser) from Debian's packages")
    st.add_argument("--tests", action="store_true", help="also Chromium, for the browser tests")
    pr = sub.add_parser("predict", help="the top three classes for picture files, from a finished run")
    pr.add_argument("images", nargs="+", metavar="IMAGE")
    pr.add_argument("--run", type=int, metavar="RUN_ID", help="default: the best validation accuracy")
    b = sub.add_parser("bench", help="the performance benchmarks (a table, and a JSON report)")
    b.add_argument("--quick", action="store_true", help="tiny sizes and 1-2 repetitions: a smoke test")
    b.add_argument("--only", nargs="+", choices=GROUP_NAMES, metavar="GROUP",
                   help=f"run only these groups: {', '.join(GROUP_NAMES)}")
    b.add_argument("--json", metavar="FILE", help="where the report goes (default: <workspace>/bench-report.json)")
    sub.add_parser("supervise", help="start queued runs and reap dead ones until the queue is empty "
                   "(the app does this itself; for a queue fed from the command line)")
    return p


def _hyper_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name")
    p.add_argument("--user", default=os.environ.get("USER", ""))
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, dest="learning_rate")
    p.add_argument("--optimizer", choices=("adam", "sgd", "rmsprop", "adamw"))
    p.add_argument("--seed", type=int)
    p.add_argument("--subset", type=int, help="a stratified subset of N training images")
    p.add_argument("--early-stopping", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--patience", type=int)
    p.add_argument("--min-delta", type=float)
    p.add_argument("--restore-best", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--full-train", action=argparse.BooleanOptionalAction, default=None,
                   help="refit on all 60,000 training images before the test evaluation")
    p.add_argument("--weights", help="ResNet50: 'imagenet', 'none', or a local weights file")


HYPER = ("name", "user", "epochs", "batch_size", "learning_rate", "optimizer", "seed", "subset", "early_stopping",
         "patience", "min_delta", "restore_best", "label_smoothing", "full_train")


def config_from_args(args):
    from fmnist import presets
    overrides = {k: getattr(args, k) for k in HYPER if getattr(args, k, None) is not None}
    config = presets.config_for(args.preset, **overrides)
    if args.weights is not None:
        weights = None if args.weights.lower() == "none" else args.weights
        config = config.with_(model=dataclasses.replace(config.model, weights=weights))
    return config


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from fmnist import commands
    try:
        return commands.COMMANDS[args.command](args)
    except commands.USER_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # str(KeyError) adds quotes
        print(f"error: {message}", file=sys.stderr)
        return 2

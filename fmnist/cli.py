"""The command line: the same functions the pages call."""
from __future__ import annotations

import argparse
import getpass
import sys

from fmnist import queue_commands, quiet_tf
from fmnist.bench import GROUP_NAMES
from fmnist.config import PRECISIONS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fmnist", description="Fashion-MNIST Lab")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("presets", help="the presets with their parameter counts")
    t = sub.add_parser("train", help="train one preset, recorded in the store",
                       description="Train one preset in the foreground (or queue it with --background); "
                       "every option defaults to the preset's own value.")
    _hyper_options(t)
    t.add_argument("--background", action="store_true", help="queue it and return at once")
    r = sub.add_parser("runs", help="the summary table")
    r.add_argument("--csv", metavar="FILE")
    r.add_argument("--limit", type=int, default=50)
    r.add_argument("--user", nargs="+", metavar="NAME", help="only these users' runs")
    r.add_argument("--reveal-test", action="store_true",
                   help="open every locked test accuracy first (counts one look at the test set for each run)")
    hp = sub.add_parser("hash-password", help="the setting line that turns classroom mode on")
    hp.add_argument("--students", action="store_true", help="the optional class password, not the instructor's")
    s = sub.add_parser("stop", help="stop a run")
    s.add_argument("run_id", type=int)
    rep = sub.add_parser("reproduce", help="every notebook preset, beside the notebook's figures")
    rep.add_argument("--limit", type=_at_least_one, metavar="N", help="at most N epochs a run (a quick look)")
    rep.add_argument("--subset", type=int, metavar="N", help="train on N images (100 to 42,000) instead of 42,000")
    rep.add_argument("--presets", nargs="+", metavar="KEY", help="only these presets (default: every notebook one)")
    st = sub.add_parser("setup", help="install the dataset (and with --tests a browser) from Debian's packages")
    st.add_argument("--tests", action="store_true",
                    help="also Chromium and PostgreSQL, for the browser and store tests")
    pr = sub.add_parser("predict", help="the top three classes for picture files, from a finished run")
    pr.add_argument("images", nargs="+", metavar="IMAGE")
    pr.add_argument("--run", type=int, metavar="RUN_ID", help="default: the best validation accuracy")
    b = sub.add_parser("bench", help="the performance benchmarks (a table, and a JSON report)")
    b.add_argument("--quick", action="store_true", help="tiny sizes and 1-2 repetitions: a smoke test")
    b.add_argument("--only", nargs="+", choices=GROUP_NAMES, metavar="GROUP",
                   help=f"run only these groups: {', '.join(GROUP_NAMES)} (by default all but lab and "
                        "candidates, which take hours)")
    b.add_argument("--json", metavar="FILE", help="where the report goes (default: <workspace>/bench-report.json)")
    b.add_argument("--minutes", nargs="+", type=float, metavar="M",
                   help="lab and candidates: the time budgets to train under (default: 5 10 13.5)")
    b.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                   help="lab and candidates: the seeds of each budget (default: 20240329 1)")
    sub.add_parser("supervise", help="start queued runs and reap dead ones until the queue is empty "
                   "(the app does this itself; for a queue fed from the command line)")
    queue_commands.add_parsers(sub, _hyper_options)  # sweep, continue
    return p


def _login() -> str:
    """$USER, else the account's name (cron, CI and containers often leave $USER unset)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid
        return ""


def _hyper_options(p: argparse.ArgumentParser) -> None:
    """Every option defaults to the preset's own value (`python -m fmnist presets` lists the presets)."""
    p.add_argument("preset", help="which model: a key from `python -m fmnist presets`, e.g. mlp1, cnn2, lab_best")
    p.add_argument("--name", help="the run's name in the table (default: the preset's title)")
    p.add_argument("--user", default=_login(), help="who started it (default: your login name)")
    p.add_argument("--epochs", type=int, metavar="N", help="at most N epochs, 1 to 500")
    p.add_argument("--batch-size", type=int, metavar="N", help="images per weight update, 1 to 8192")
    p.add_argument("--lr", type=float, dest="learning_rate", metavar="RATE",
                   help="learning rate, greater than 0 and at most 1 (Adam's usual: 0.001)")
    p.add_argument("--optimizer", choices=("adam", "sgd", "rmsprop", "adamw"), help="the optimizer")
    p.add_argument("--seed", type=int, help="random seed for weights, shuffling and the subset (notebook: 20240329)")
    p.add_argument("--subset", type=int, metavar="N", help="a stratified subset of N training images (100 to 42,000)")
    p.add_argument("--early-stopping", action=argparse.BooleanOptionalAction, default=None,
                   help="stop when validation accuracy stops improving")
    p.add_argument("--patience", type=int, metavar="N", help="early stopping: epochs without improvement, 1 to 100")
    p.add_argument("--min-delta", type=float, metavar="X",
                   help="early stopping: a smaller gain in validation accuracy does not count (0 to 0.5)")
    p.add_argument("--restore-best", action=argparse.BooleanOptionalAction, default=None,
                   help="early stopping: keep the best epoch's weights, not the last")
    p.add_argument("--label-smoothing", type=float, metavar="X", help="soften the one-hot targets, 0 to 0.5")
    p.add_argument("--full-train", action=argparse.BooleanOptionalAction, default=None,
                   help="refit on all 60,000 training images before the test evaluation")
    p.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=None,
                   help="predictions average each picture and its left-right mirror (test-time augmentation)")
    p.add_argument("--minutes", type=float, metavar="M",
                   help="a time budget: training ends at the last epoch that fits in M minutes (at most --epochs) "
                        "and a cosine schedule decays on the clock; start-up and the final evaluation are extra")
    p.add_argument("--no-budget", action="store_true",
                   help="no time budget (for a preset that has one, such as lab_best)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="bfloat16: mixed precision (faster on CPUs with AMX and on recent GPUs); auto: bfloat16 where "
                        "this machine computes it natively, else float32")
    p.add_argument("--pace", type=float, dest="pace_s", metavar="SECONDS",
                   help="a demo's watchable pace: each epoch lasts at least this long, 0 to 60 (default 0, full speed)")
    p.add_argument("--weights", help="ResNet50: 'imagenet', 'none', or a local weights file")


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {value}); leave it out for the notebook's epochs")
    return value


def main(argv: list[str] | None = None) -> int:
    quiet_tf.quiet_env()
    args = _parser().parse_args(argv)
    from fmnist import commands  # (they import TensorFlow, quietly, once their options have been checked)
    try:
        return commands.COMMANDS[args.command](args)
    except commands.USER_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # str(KeyError) adds quotes
        print(f"error: {message}", file=sys.stderr)
        return 2

"""The `sweep` and `continue` commands: they queue runs, make sure a supervisor starts them, and follow them."""
from __future__ import annotations

import time


def add_parsers(sub, hyper_options) -> None:
    """`hyper_options(parser)` adds the preset and the train options, as for `train`."""
    sw = sub.add_parser("sweep", help="an Optuna sweep over hyperparameters: every trial a queued run",
                        description="Search hyperparameters of a preset: each trial is an ordinary run in the "
                        "queue and the table. The other options set the preset's fixed values, as for train.")
    hyper_options(sw)
    sw.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                    help="values to try, e.g. lr=0.001,0.01 (repeatable)")
    sw.add_argument("--range", action="append", default=[], metavar="NAME=LO:HI[:log]",
                    help="a range to sample, e.g. lr=0.0001:0.1:log (repeatable; random or tpe sampler)")
    sw.add_argument("--random", type=int, metavar="N", help="N random trials (the same as --sampler random --trials N)")
    sw.add_argument("--sampler", choices=("grid", "random", "tpe"), help="default: grid for --grid only, else random")
    sw.add_argument("--trials", type=int, metavar="N", help="at most N trials (default: the whole grid, or 8)")
    sw.add_argument("--prune", choices=("median", "halving"), help="stop poor trials early from their val accuracy")
    sw.add_argument("--background", action="store_true", help="create it and return at once")
    co = sub.add_parser("continue", help="train a finished run's model N more epochs, as a new run")
    co.add_argument("run_id", type=int)
    co.add_argument("--epochs", type=int, required=True, metavar="N", help="how many more epochs")
    co.add_argument("--background", action="store_true", help="queue it and return at once")


def sweep(args) -> int:
    from fmnist import commands, supervisor, sweep_results, sweep_spec, sweeps
    store, settings = commands._open()
    base = commands.config_from_args(args)
    grid = dict(sweep_spec.parse_grid(text) for text in args.grid)
    ranges = dict(sweep_spec.parse_range(text) for text in args.range)
    sampler, trials = args.sampler, args.trials
    if args.random is not None:
        sampler, trials = sampler or "random", args.random
    spec = sweep_spec.make_spec(base, grid, ranges, sampler, trials, args.prune)
    sweep_id = sweeps.create(store, settings, spec, name=args.name or "", user=base.user)
    supervisor.ensure_one(store, settings)  # the app's supervisor, or one started now, advances it
    print(f"sweep {sweep_id}: {spec['trials']} trials, {spec['sampler']} sampler"
          + (f", {spec['prune']} pruning" if spec["prune"] else ""), flush=True)
    if args.background:
        print("follow it on the app's Sweeps page or with `python -m fmnist runs`")
        return 0
    try:
        done = sweep_results.wait(store, settings, sweep_id, on_change=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        print(f"\nsweep {sweep_id} goes on in the background")
        return 0
    frame = sweep_results.trials_frame(store, settings, done)
    shown = frame.astype(object).where(frame.notna(), "-")  # None in a text column too
    print(shown.to_string(index=False, formatters={"Val accuracy": lambda v: v if v == "-" else f"{v:.4f}"}))
    best = sweep_results.best(settings, done)
    print(best.text() if best else "no trial finished")
    return 0 if best else 1


def continue_run(args) -> int:
    from fmnist import commands, continuing, supervisor
    store, settings = commands._open()
    run_id = continuing.submit(args.run_id, args.epochs, store, settings)
    supervisor.ensure_one(store, settings)
    print(f"run {run_id} continues run {args.run_id} for {args.epochs} more epochs", flush=True)
    if args.background:
        return 0
    try:
        while (run := store.get(run_id)).active:
            time.sleep(1.0)
    except KeyboardInterrupt:
        print(f"\nrun {run_id} goes on in the background")
        return 0
    commands._print_run(run)
    return 0 if run.status == "finished" else 1


COMMANDS = {"sweep": sweep, "continue": continue_run}

"""What each CLI command does; printing only, the work is in the lab's modules."""
from __future__ import annotations

import dataclasses
import sys

import pandas as pd

from fmnist import jobs, labels, presets, queue_commands, quiet_tf, runner, summary, supervisor
from fmnist.classroom import ClassroomError
from fmnist.config import ConfigError
from fmnist.data import DatasetError
from fmnist.settings import Settings, SettingsError, load
from fmnist.store import Store, StoreError

# QueueFull and RunGone are StoreErrors; OSError: an output file (--csv, --json) that cannot be written
USER_ERRORS = (ConfigError, DatasetError, StoreError, SettingsError, ClassroomError, KeyError, LookupError, OSError)


def _open() -> tuple[Store, Settings]:
    settings = load()
    settings.ensure_dirs()
    return Store.open(settings), settings


def list_presets(args) -> int:
    from fmnist import nets
    rows = [{"preset": p.key, "model": p.title, "kind": p.config.model.kind,
             "params": nets.count_params(p.config.model) or "-",
             "notebook val": p.notebook.val if p.notebook else "-"} for p in presets.all_presets().values()]
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


HYPER = ("name", "user", "epochs", "batch_size", "learning_rate", "optimizer", "seed", "subset", "early_stopping",
         "patience", "min_delta", "restore_best", "label_smoothing", "full_train", "flip_average",
         "pace_s", "minutes", "precision")


def config_from_args(args):
    """The preset's config with the options given on the command line."""
    overrides = {k: getattr(args, k) for k in HYPER if getattr(args, k, None) is not None}
    if getattr(args, "no_budget", False):
        overrides["minutes"] = None
    config = presets.config_for(args.preset, **overrides)
    if args.weights is not None:
        weights = None if args.weights.lower() == "none" else args.weights
        config = config.with_(model=dataclasses.replace(config.model, weights=weights))
    return config


def _checked(config, settings: Settings):
    from fmnist import nets
    nets.check_size(config.validate(), settings.max_params)
    return config


def train(args) -> int:
    store, settings = _open()
    config = _checked(config_from_args(args), settings)
    if args.background:
        run_id = jobs.submit(config, store, settings)
        supervisor.ensure_one(store, settings)  # someone must start it: the app's supervisor, or a new one
        print(f"run {run_id} queued; follow it with `python -m fmnist runs`, "
              f"stop it with `python -m fmnist stop {run_id}`")
        return 0
    quiet_tf.import_tensorflow()  # after the checks, so a bad option fails at once; its notices kept off the terminal
    run_id = jobs.create_foreground(store, config)
    print(f"run {run_id}: {config.name} ...", flush=True)
    status = runner.execute(store, settings, run_id)
    _print_run(store.get(run_id))
    return 0 if status == "finished" else 1


def _print_run(run) -> None:
    line = f"run {run.id} {run.status}"
    if run.val_acc is not None:
        line += f": train {run.train_acc:.4f}, val {run.val_acc:.4f}"
    if run.test_acc is not None:  # kept aside like everywhere else until it has been looked at
        line += f", test {run.test_acc:.4f}" if run.test_views else ", test locked (choose on validation)"
    if run.epochs:
        line += f", {run.epochs} epochs, {run.seconds or 0:.0f} s"
    print(line + (f" ({run.error})" if run.error else ""))


def runs(args) -> int:
    store, settings = _open()
    if store.count(statuses=("queued", "running")):
        supervisor.ensure_one(store, settings)  # with no app server up, someone must reap and start them
    if args.reveal_test:
        from fmnist import evaluate
        print(f"test accuracy revealed for {len(evaluate.reveal_all(store))} runs (one look at the test set counted "
              "for each)", file=sys.stderr)
    frame = summary.summary_frame(store, limit=args.limit if not args.csv else 1_000_000, users=args.user or ())
    if args.csv:
        with open(args.csv, "wb") as fh:
            fh.write(summary.to_csv(frame))
        print(f"{len(frame)} runs written to {args.csv}")
        return 0
    cols = ["Run", "Model", "User", "Status", "Train accuracy", "Val accuracy", "Test accuracy", "Params", "Epochs",
            "Seconds", "Error"]
    print(summary.text_table(frame, cols))
    return 0


def hash_password(args) -> int:
    """Print the setting line for classroom mode; the password is read without echo (or from a pipe)."""
    import getpass

    from fmnist import classroom
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise classroom.ClassroomError("The two passwords differ; nothing was printed. Try again.")
    else:
        password = sys.stdin.readline().rstrip("\n")
    key = classroom.CLASS_KEY if args.students else classroom.INSTRUCTOR_KEY
    print(f'{key} = "{classroom.hash_password(password)}"')
    print("Put this line in .streamlit/secrets.toml (or export it in the environment) and restart the app.",
          file=sys.stderr)
    return 0


def stop(args) -> int:
    store, settings = _open()
    status = jobs.stop(args.run_id, store, settings)
    print(f"run {args.run_id}: {status}" + (" (stop requested; it ends within seconds)" if status == "running" else ""))
    return 0


def reproduce(args) -> int:
    store, settings = _open()
    configs = [_checked(reproduce_config(key, args.subset, args.limit), settings)
               for key in args.presets or presets.NOTEBOOK_KEYS]  # every one checked before the first run is written
    quiet_tf.import_tensorflow()
    failed = 0
    for config in configs:
        run_id = jobs.create_foreground(store, config)
        print(f"run {run_id}: {config.name} ...", flush=True)
        failed += runner.execute(store, settings, run_id) != "finished"
        _print_run(store.get(run_id))
    table = summary.beside_notebook(summary.summary_frame(store, limit=10_000))
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-"))
    return 1 if failed else 0


def reproduce_config(key: str, subset: int | None, limit: int | None):
    """A notebook preset as the notebook ran it, optionally on a subset and capped at `limit` epochs."""
    config = presets.config_for(key, **({"subset": subset} if subset is not None else {}))
    return config.with_(epochs=min(config.epochs, limit)) if limit is not None else config


def supervise(args) -> int:
    """Start queued runs and reap dead ones until nothing is queued or running (no app server needed)."""
    store, settings = _open()
    supervisor.run_until_idle(store, settings)
    return 0


def predict(args) -> int:
    """One line a file; a bad file gets its message and the others still run; exit 1 if any failed."""
    from fmnist import predict as predict_mod
    from fmnist.artifacts import ArtifactError
    from fmnist.images import ImageError
    store, settings = _open()
    try:
        run = predict_mod.choose_run(store, args.run)
        quiet_tf.import_tensorflow()
        model = predict_mod.load_model(store, run.id, settings.models_dir)
    except (predict_mod.PredictError, ArtifactError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model: {labels.model_choice(run)}")
    failed = 0
    for path in args.images:
        try:
            print(f"{path}: " + ", ".join(map(str, predict_mod.classify_file(model, path))), flush=True)
        except ImageError as exc:
            failed += 1
            print(f"{path}: error: {exc}", flush=True)
    return 1 if failed else 0


def setup(args) -> int:
    from fmnist import install
    settings = load()
    print(install.ensure_dataset(settings))
    if args.tests:
        print(install.ensure_browser())
        print(install.ensure_postgres())
    return 0


def bench(args) -> int:
    from dataclasses import replace
    from pathlib import Path

    from fmnist.bench import DEFAULT_GROUPS, plan, report, suite
    settings = load()
    quiet_tf.import_tensorflow()
    out = Path(args.json) if args.json else settings.home / "bench-report.json"
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731 - progress; the table goes to stdout
    chosen = plan.plan_for(args.quick)
    if args.minutes:
        chosen = replace(chosen, budget_minutes=tuple(args.minutes))
    if args.seeds:
        chosen = replace(chosen, budget_seeds=tuple(args.seeds))
    result = suite.run(args.only or list(DEFAULT_GROUPS), chosen, settings, log)
    report.write_json(result, out)
    print(report.text(result))
    print(f"\nreport written to {out}")
    return 1 if result["errors"] else 0


COMMANDS = {"setup": setup, "presets": list_presets, "train": train, "runs": runs, "stop": stop,
            "hash-password": hash_password, "reproduce": reproduce, "supervise": supervise, "predict": predict,
            "bench": bench, **queue_commands.COMMANDS}

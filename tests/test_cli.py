"""The command line, run as a user runs it: a subprocess with its own workspace."""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist import cli as cli_mod

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(tmp_path, split_cache):
    home = tmp_path / "home"
    (home / "cache").mkdir(parents=True)
    shutil.copy(split_cache, home / "cache" / split_cache.name)

    def run(*args, ok=True):
        env = {**os.environ, "FMNIST_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([sys.executable, "-m", "fmnist", *args], check=False, cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert "Traceback" not in done.stderr, done.stderr
        if ok:
            assert done.returncode == 0, done.stderr
        return done
    run.home = home
    return run


@pytest.fixture(scope="session")
def split_cache(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli-cache")
    env = {**os.environ, "FMNIST_HOME": str(home)}
    subprocess.run([sys.executable, "-c", "from fmnist import data, settings; data.load_split(settings.load())"],
                   cwd=REPO, env=env, check=True)
    return home / "cache" / "fashion-mnist-v1.npz"


def test_presets_lists_every_model_with_its_parameter_count(cli):
    out = cli("presets").stdout
    for key, params in [("mlp1", "202735"), ("mlp5_reg", "3717910"), ("cnn2", "723359"), ("resnet", "24114826")]:
        line = next(line for line in out.splitlines() if line.split()[0] == key)
        assert params in line


TF_NOTICES = ("absl::InitializeLog", "oneDNN", "cuda", "cpu_feature_guard", "To enable the following instructions")


def test_train_records_a_run_and_runs_csv_exports_it(cli, tmp_path):
    done = cli("train", "mlp1", "--epochs", "1", "--subset", "200", "--name", "=cmd|calc", "--user", "ada")
    assert "run 1 finished: train" in done.stdout
    assert not [line for line in done.stderr.splitlines() if any(n in line for n in TF_NOTICES)], done.stderr
    table = cli("runs").stdout
    assert "=cmd|calc" in table and "finished" in table
    target = tmp_path / "runs.csv"
    cli("runs", "--csv", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert rows[0]["Model"] == "'=cmd|calc" and rows[0]["User"] == "ada" and rows[0]["Status"] == "finished"
    assert 0 < float(rows[0]["Val accuracy"]) <= 1 and rows[0]["Params"] == "202735"


def test_a_bad_hyperparameter_names_the_field_and_writes_nothing(cli):
    done = cli("train", "mlp1", "--epochs", "0", "--lr", "2", ok=False)
    assert done.returncode == 2
    assert "epochs: must be a whole number from 1 to 500 (got 0)" in done.stderr
    assert "learning_rate: must be greater than 0 and at most 1 (got 2.0)" in done.stderr
    assert "no runs yet" in cli("runs").stdout


def test_an_unknown_preset_lists_the_choices(cli):
    done = cli("train", "vgg", ok=False)
    assert done.returncode == 2 and "unknown preset 'vgg'" in done.stderr and "cnn2" in done.stderr


def test_stopping_an_unknown_run_says_so_plainly(cli):
    done = cli("stop", "99999", ok=False)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == "error: There is no run 99999."


def test_reproduce_prints_the_notebook_figures_beside_ours(cli):
    out = cli("reproduce", "--presets", "majority").stdout
    table = out[out.index("Model"):]
    majority = next(line for line in table.splitlines()
                    if line.startswith("Majority class") or " Majority class" in line)
    # the notebook's majority baseline, and ours: the same split gives the same figures
    assert majority.count("0.1024") == 2 and majority.count("0.0944") == 2
    assert majority.count("0.1000") == 2 or "locked" in majority  # our test figure may stay hidden until evaluated
    assert "3 hidden layers" in table  # presets not run still show the notebook's figures


def test_a_corrupt_store_is_reported_and_left_alone(cli):
    db = cli.home / "runs.db"
    db.write_bytes(b"not a database at all" * 50)
    done = cli("runs", ok=False)
    assert done.returncode == 2 and "cannot be used" in done.stderr and "move it aside" in done.stderr
    assert db.read_bytes() == b"not a database at all" * 50


def test_presets_and_train_help_print_no_tensorflow_notices_and_help_every_option(cli):
    for args in (("presets",), ("train", "--help")):
        done = cli(*args)
        assert done.stderr == "", done.stderr
    text = " ".join(cli("train", "--help").stdout.split())  # argparse wraps lines
    train = next(a for a in cli_mod._parser()._actions if a.dest == "command").choices["train"]
    unexplained = [a.dest for a in train._actions if not a.help]
    assert unexplained == [] and len(train._actions) >= 17
    assert "learning rate, greater than 0 and at most 1" in text


@pytest.mark.parametrize("args, message", [
    (("--limit", "0"), "argument --limit: must be 1 or more (got 0)"),
    (("--limit", "-1"), "argument --limit: must be 1 or more (got -1)"),
    (("--subset", "5"), "subset: must be a whole number from 100 to 42000 (got 5)"),
    (("--presets", "majority", "vgg"), "unknown preset 'vgg'")])
def test_reproduce_checks_its_options_before_writing_any_run(cli, args, message):
    done = cli("reproduce", *args, ok=False)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "no runs yet" in cli("runs").stdout  # not even the presets before the bad one


def test_a_finished_runs_line_keeps_its_test_accuracy_locked_until_looked_at(capsys, run_factory, store):
    from fmnist import commands
    run = run_factory(status="running")
    store.finish(run.id, dict(train_acc=0.9, val_acc=0.85, test_acc=0.8421, epochs=2, seconds=3.0))
    commands._print_run(store.get(run.id))
    assert "0.8421" not in capsys.readouterr().out
    store.count_test_view(run.id)
    commands._print_run(store.get(run.id))
    assert "test 0.8421" in capsys.readouterr().out


def test_a_run_without_user_is_credited_to_the_login_even_without_the_user_variable(monkeypatch):
    import pwd
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):  # what getpass reads first; cron and CI often set none
        monkeypatch.delenv(name, raising=False)
    args = cli_mod._parser().parse_args(["train", "mlp1"])
    assert args.user == pwd.getpwuid(os.getuid()).pw_name != ""


def test_the_command_line_sets_the_precision():
    from fmnist import commands

    def config_of(*argv):
        return commands.config_from_args(cli_mod._parser().parse_args(["train", *argv]))
    assert config_of("cnn2").precision == "float32"
    assert config_of("cnn2", "--precision", "bfloat16").precision == "bfloat16"
    with pytest.raises(SystemExit):
        cli_mod._parser().parse_args(["train", "cnn2", "--precision", "half"])

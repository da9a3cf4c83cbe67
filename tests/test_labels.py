"""fmnist.labels: the text each picker shows for a run, as the pages and browser tests read it."""
from __future__ import annotations

from dataclasses import replace

from fmnist import labels


def test_short_is_the_number_and_the_name(run_factory):
    run = run_factory("mlp1")
    assert labels.short(run) == f"#{run.id} Single hidden layer"


def test_with_status_adds_the_state_the_accuracy_once_there_is_one_and_who(run_factory):
    run = replace(run_factory("mlp1", user="ana"), status="finished", val_acc=0.88671)
    assert labels.with_status(run) == f"#{run.id} Single hidden layer · finished · val 0.8867 · ana"
    queued = run_factory("cnn2")
    assert labels.with_status(queued) == f"#{queued.id} Multi CNN · queued"


def test_model_choice_names_the_preset_and_the_validation_accuracy(run_factory):
    run = replace(run_factory("mlp1", name="tiny"), status="finished", val_acc=0.9)
    assert labels.model_choice(run) == f"#{run.id} tiny (mlp1, validation 90.0%)"
    assert labels.model_choice(replace(run, val_acc=None)) == f"#{run.id} tiny (mlp1)"


def test_final_choice_shows_validation_as_the_table_does(run_factory):
    run = replace(run_factory("cnn1", name="champion"), status="finished", val_acc=0.92)
    assert labels.final_choice(run) == f"#{run.id} champion · val 92.00%"

"""fmnist.forms: text fields parsed, widget values turned into RunConfigs, every bad field named."""
from __future__ import annotations

import pytest

from fmnist import forms, presets
from fmnist.config import ConvBlock, RunConfig
from fmnist.store import QueueFull


def form_values(config: RunConfig) -> dict:
    """What the page hands over when nothing was edited: the shown fields' initial values."""
    shown = {f.name for f in forms.fields_for(config.model.kind)}
    return {k: v for k, v in forms.initial_values(config).items() if k in shown}


def config_of(values: dict, base: RunConfig, **kw) -> RunConfig:
    """The config the form would queue; the test fails, naming the fields, if any is bad."""
    state = forms.read(values, base, **kw)
    assert state.errors == {} and state.config is not None
    return state.config


def errors_of(values: dict, base: RunConfig, **kw) -> dict[str, str]:
    state = forms.read(values, base, **kw)
    assert state.errors and state.config is None
    return state.errors


@pytest.mark.parametrize("text, widths", [("255, 1020", (255, 1020)), ("255,1020,510", (255, 1020, 510)),
                                           (" 64 ; 32 ", (64, 32)), ("", ()), ("128,", (128,))])
def test_widths_text_becomes_a_tuple(text, widths):
    assert forms.parse_widths(text) == widths


@pytest.mark.parametrize("text", ["abc", "255, x", "2.5", "-3"])
def test_bad_widths_text_says_what_to_type(text):
    with pytest.raises(ValueError, match="is not a whole number of units; type widths separated by commas"):
        forms.parse_widths(text)


def test_rates_one_for_all_one_per_layer_or_none():
    assert forms.parse_rates("0.2", 3) == (0.2, 0.2, 0.2)
    assert forms.parse_rates("0.2, 0.2, 0", 3) == (0.2, 0.2, 0.0)
    assert forms.parse_rates("", 3) == ()
    assert forms.parse_rates("0, 0", 2) == ()
    with pytest.raises(ValueError, match="give one rate for all 3 layers or one per layer \\(got 2\\)"):
        forms.parse_rates("0.2, 0.1", 3)
    with pytest.raises(ValueError, match="'half' is not a number"):
        forms.parse_rates("half", 1)


def test_conv_rows_parse_with_pool_and_batch_norm():
    text = "64x3, pool 2\n32 x 3\n32X5 pool 3, bn; 16*3,bn"
    assert forms.parse_conv(text) == (ConvBlock(64, 3, 2), ConvBlock(32, 3, 0), ConvBlock(32, 5, 3, True),
                                      ConvBlock(16, 3, 0, True))
    assert forms.parse_conv("") == ()
    with pytest.raises(ValueError, match="line 2 'banana' is not FILTERS x KERNEL"):
        forms.parse_conv("32x3\nbanana")


def test_conv_rows_take_same_padding_and_options_in_any_order():
    assert forms.parse_conv("32x3, same, bn\n64 x 3 bn Same pool 2\n16x5 valid") == (
        ConvBlock(32, 3, 0, True, "same"), ConvBlock(64, 3, 2, True, "same"), ConvBlock(16, 5, 0))
    assert forms.format_conv((ConvBlock(32, 3, 2, True, "same"),)) == "32x3, same, pool 2, bn"
    for row in ("32x3 bnsame", "32x3, pool", "32x3 pool 2bn", "32x3, padded"):
        with pytest.raises(ValueError, match=r"is not FILTERS x KERNEL\[, same\]\[, pool N\]\[, bn\]"):
            forms.parse_conv(row)


@pytest.mark.parametrize("key", ["cnn1", "cnn2", "lab_best"])
def test_conv_rows_round_trip_every_preset(key):
    blocks = presets.get(key).config.model.conv
    assert forms.parse_conv(forms.format_conv(blocks)) == blocks


@pytest.mark.parametrize("key", list(presets.all_presets()))
def test_an_unedited_form_gives_back_the_preset(key):
    base = forms.start_config(key)
    assert config_of(form_values(base), base, user="ana", max_params=30_000_000) == base.with_(user="ana")


def test_edited_hyperparameters_keep_the_preset_key():
    base = forms.start_config("mlp1")
    config = config_of({**form_values(base), "epochs": 2, "subset": 300, "learning_rate": 0.01}, base)
    assert (config.preset, config.name, config.epochs, config.subset, config.learning_rate) == \
        ("mlp1", "Single hidden layer", 2, 300, 0.01)
    assert config.model == base.model


def test_edited_layers_make_a_custom_run_named_after_its_preset():
    base = forms.start_config("mlp3")
    config = config_of({**form_values(base), "dense": "255, 100", "dropout": "0.3"}, base)
    assert config.preset == "custom" and config.name == "3 hidden layers (modified)"
    assert (config.model.dense, config.model.dropout) == ((255, 100), (0.3, 0.3))


def test_building_your_own_cnn():
    base = forms.start_config(forms.CUSTOM, "cnn")
    values = {**form_values(base), "conv": "16x3, pool 2, bn", "dense": "64", "dropout": "", "name": "  tiny  "}
    config = config_of(values, base, user="bo")
    assert config.model.conv == (ConvBlock(16, 3, 2, True),) and config.model.dense == (64,)
    assert (config.model.dropout, config.name, config.user, config.preset) == ((), "tiny", "bo", "custom")


def test_bad_text_gives_an_error_naming_the_field_and_nothing_else():
    base = forms.start_config("mlp3")
    errors = errors_of({**form_values(base), "dense": "abc"}, base)
    assert errors == {"dense": "Hidden layer widths: 'abc' is not a whole number of units; type widths "
                               "separated by commas, e.g. 255, 1020, 510"}


def test_out_of_range_fields_are_named_by_their_labels():
    base = forms.start_config("mlp3_reg")
    errors = errors_of({**form_values(base), "epochs": 0, "dense": "255, 5000, 10", "learning_rate": 0.0,
                        "subset": 50}, base)
    assert errors == {
        "epochs": "Epochs (at most): must be a whole number from 1 to 500 (got 0)",
        "dense": "Hidden layer widths: layer 2 must be a whole number from 1 to 4096 (got 5000)",
        "learning_rate": "Learning rate: must be greater than 0 and at most 1 (got 0.0)",
        "subset": "Training images: must be a whole number from 100 to 42000 (got 50)",
    }


def test_conv_errors_point_at_the_conv_field():
    base = forms.start_config(forms.CUSTOM, "cnn")
    errors = errors_of({**form_values(base), "conv": "32x7, pool 4\n32x7"}, base)
    assert errors == {"conv": "Convolution layers: layer 2 the image shrinks to nothing here: use fewer layers, "
                              "smaller kernels or less pooling"}


def test_parameter_cap_is_reported_under_model():
    base = forms.start_config("mlp1")
    errors = errors_of(form_values(base), base, max_params=100_000)
    assert errors == {"model": "202,735 parameters is over this lab's cap of 100,000; use fewer or narrower layers"}


def test_field_errors_maps_config_keys_to_form_fields():
    assert forms.field_errors({"model.dropout[1]": "must be a number from 0.0 to 0.9 (got 2.0)",
                               "model.conv": "a convolutional network needs 1 to 6 conv layers (got 0)",
                               "batch_size": "must be a whole number from 1 to 8192 (got 0)"}) == {
        "dropout": "Dropout after each dense layer: layer 2 must be a number from 0.0 to 0.9 (got 2.0)",
        "conv": "Convolution layers: a convolutional network needs 1 to 6 conv layers (got 0)",
        "batch_size": "Batch size: must be a whole number from 1 to 8192 (got 0)"}


def test_fields_shown_per_kind():
    assert [f.name for f in forms.fields_for("majority")] == ["subset", "seed", "name"]
    assert [f.name for f in forms.fields_for("forest", "model")] == ["n_estimators"]
    assert "conv" in [f.name for f in forms.fields_for("cnn")]
    assert "conv" not in [f.name for f in forms.fields_for("mlp")]


def test_notebook_configs_are_the_notebook_presets_for_this_user():
    configs = forms.notebook_configs("ana")
    assert [c.preset for c in configs] == list(presets.NOTEBOOK_KEYS)
    assert all(c.user == "ana" for c in configs)
    assert configs[2] == presets.config_for("mlp1", user="ana")


def test_submit_all_collects_refusals():
    def submit(config):
        if config.preset in ("mlp3", "cnn1"):
            raise QueueFull("The queue is full.")
        return len(config.preset)

    queued, refused = forms.submit_all(forms.notebook_configs(), submit)
    assert len(queued) == 7
    assert refused == ["3 hidden layers: The queue is full.", "Single CNN: The queue is full."]


def test_number_boxes_are_text_that_reads_back_as_numbers():
    base = presets.config_for("lab_best")
    shown = form_values(base)
    shown_four = (shown["learning_rate"], shown["epochs"], shown["subset"], shown["label_smoothing"])
    assert shown_four == ("0.002", "100", "", "0.1")
    config = config_of({**shown, "learning_rate": " 0.0005 ", "subset": "5,000", "epochs": "3"}, base)
    assert (config.learning_rate, config.subset, config.epochs) == (0.0005, 5000, 3)
    assert config_of(shown, base) == base.with_(name=base.name)  # the shown text gives back the preset


@pytest.mark.parametrize("typed, message", [
    ("abc", "Learning rate: 'abc' is not a number; type e.g. 0.001"),
    ("", "Learning rate: the box is empty; type a number, e.g. 0.001"),
    ("1e-3x", "Learning rate: '1e-3x' is not a number; type e.g. 0.001")])
def test_a_learning_rate_that_is_not_a_number_is_refused_never_replaced(typed, message):
    base = presets.config_for("mlp1")
    state = forms.read({**form_values(base), "learning_rate": typed}, base)
    assert state.config is None and state.errors == {"learning_rate": message}
    assert state.draft.model == base.model  # the summary still shows the network: only a training field is wrong


def test_the_summary_draft_is_the_users_network_or_none_while_a_layer_field_is_bad():
    base = presets.config_for("mlp1")
    state = forms.read({**form_values(base), "dense": "64, 32", "epochs": "0"}, base)
    assert state.config is None and set(state.errors) == {"epochs"}
    assert state.draft.model.dense == (64, 32)  # what the user typed, not the preset's 255
    broken = forms.read({**form_values(base), "dense": "64, x"}, base)
    assert broken.draft is None and set(broken.errors) == {"dense"}
    assert forms.read({**form_values(base), "epochs": "2.5"}, base).errors == {
        "epochs": "Epochs (at most): '2.5' is not a whole number; type e.g. 20"}


def test_the_time_budget_box_reads_minutes_or_none_and_names_bad_text():
    base = presets.config_for("lab_best")
    shown = form_values(base)
    assert shown["minutes"] == "13.5" and forms.fields_for("cnn")[0].placeholder == ""
    assert {f.name: f.placeholder for f in forms.fields_for("cnn")}["minutes"] == "none"
    assert config_of({**shown, "minutes": " 5 "}, base).minutes == 5.0
    assert config_of({**shown, "minutes": ""}, base).minutes is None
    assert errors_of({**shown, "minutes": "ten"}, base) == {
        "minutes": "Time budget (minutes): 'ten' is not a number; type e.g. 5"}
    assert errors_of({**shown, "minutes": "0"}, base) == {
        "minutes": "Time budget (minutes): must be more than 0 and at most 1440 minutes, or empty (got 0.0)"}
    assert "minutes" not in {f.name for f in forms.fields_for("forest")}


def test_the_precision_choice_reaches_the_config_and_is_offered_only_for_networks():
    base = presets.config_for("cnn2")
    shown = form_values(base)
    assert shown["precision"] == "float32"
    assert config_of({**shown, "precision": "bfloat16"}, base).precision == "bfloat16"
    field = {f.name: f for f in forms.fields_for("cnn")}["precision"]
    assert field.options == ("float32", "bfloat16", "auto") and field.widget == "choice"
    assert "precision" not in {f.name for f in forms.fields_for("forest")}

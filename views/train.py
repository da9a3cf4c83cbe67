"""Train: pick a preset or build a network, set its hyperparameters, start it, watch it learn, stop it."""
import pandas as pd
import streamlit as st

from fmnist import forms, jobs, layer_table, presets, progress
from fmnist.config import ConfigError
from fmnist.store import QueueFull, StoreError
from views._common import lab_settings, store, user_name
from views._train_live import show_live


def field_widget(field: forms.Field, value, key: str):
    kw = dict(label=field.label, help=field.help or None, key=key)
    if field.widget in ("int", "optional_int"):
        return st.number_input(value=value, step=100 if field.name == "subset" else 1, placeholder="all 42,000", **kw)
    if field.widget == "float":
        return st.number_input(value=float(value), step=field.step, format="%g", **kw)
    if field.widget == "bool":
        return st.checkbox(value=value, **kw)
    if field.widget == "choice":
        return st.selectbox(options=field.options, index=field.options.index(value), **kw)
    return (st.text_area if field.widget == "area" else st.text_input)(value=value, **kw)


def notebook_figures(preset: presets.Preset) -> None:
    nb, cols = preset.notebook, st.columns(5)
    figures = [("Params (notebook)", f"{nb.params:,}" if nb.params else "-"), ("Train accuracy", f"{nb.train:.4f}"),
               ("Val accuracy", f"{nb.val:.4f}"), ("Test accuracy", f"{nb.test:.4f}"), ("Epochs", nb.epochs)]
    for col, (name, value) in zip(cols, figures):
        col.metric(name, value)


st.title("Train a model")
settings, runs = lab_settings(), store()
options = forms.choices()
choice = st.selectbox("Model", list(options), index=list(options).index("mlp1"), format_func=options.get,
                      key="train_choice")
kind = "mlp"
if choice == forms.CUSTOM:
    kind = st.radio("Network", list(forms.KIND_LABELS), format_func=forms.KIND_LABELS.get, horizontal=True)
elif presets.get(choice).notebook:
    notebook_figures(presets.get(choice))
st.caption(presets.get(choice).blurb if choice != forms.CUSTOM else "Set the layers, then the training.")
base = forms.start_config(choice, kind)
defaults, values, slots = forms.initial_values(base), {}, {}
form_col, summary_col = st.columns([2, 1], gap="medium")
with form_col, st.form(f"train-{choice}-{kind}"):
    for group, heading in (("model", "Layers"), ("training", "Training")):
        fields = forms.fields_for(base.model.kind, group)
        st.markdown(f"**{heading}**" if fields else "")
        for i, field in enumerate(fields):
            with (cols := st.columns(3) if i % 3 == 0 else cols)[i % 3]:
                values[field.name] = field_widget(field, defaults[field.name], f"{choice}-{kind}-{field.name}")
                slots[field.name] = st.empty()
    buttons = st.columns(3)
    start = buttons[0].form_submit_button("Start training", type="primary")
    buttons[1].form_submit_button("Update the summary")
try:
    config, errors = forms.to_config(values, base, user_name(), settings.max_params), {}
except ConfigError as exc:
    config, errors = None, exc.errors
if start and config:
    try:
        st.query_params["run"] = str(jobs.submit(config, runs, settings))
    except QueueFull as exc:
        st.warning(str(exc))
    except (ConfigError, StoreError) as exc:
        errors = forms.field_errors(getattr(exc, "errors", {"model": str(exc)}))
for name, message in errors.items():
    slots.get(name, summary_col).error(message)
with summary_col:
    table = layer_table.rows(config or base)
    st.markdown(f"**Model summary** · {layer_table.total(table):,} parameters (the cap is {settings.max_params:,})")
    if table:
        st.dataframe(pd.DataFrame(table), hide_index=True,
                     column_config={"Params": st.column_config.NumberColumn(format="localized")})
        per_epoch = progress.epoch_seconds_estimate(config or base, runs)
        st.caption("Expected time per epoch: " + (f"{progress.about(per_epoch)} (from earlier runs)"
                                                   if per_epoch else "unknown until the first epoch"))
    else:
        st.caption("Not a neural network: no layers to list, and it trains in one step.")
    if st.button("Run the whole notebook", help="Queue every notebook model with the notebook's own settings."):
        queued, refused = forms.submit_all(forms.notebook_configs(user_name()), lambda c: jobs.submit(c, runs, settings))
        st.success(f"Queued {len(queued)} of {len(presets.NOTEBOOK_KEYS)} notebook runs.")
        for message in refused:
            st.warning(message)

st.divider()
current, missing = progress.selected_run(st.query_params.get("run", ""), runs)
if missing:
    st.warning(missing)
labels = {r.id: progress.label(r) for r in runs.runs(limit=200)}
if current and current.id not in labels:  # an older run opened from its URL
    labels = {current.id: progress.label(current), **labels}
pick = st.selectbox("Open an earlier run", list(labels), index=list(labels).index(current.id) if current else None,
                    format_func=labels.get, placeholder="Choose a run",
                    key=f"open-{current.id if current else ''}-{hash(tuple(labels.values()))}")  # new labels, new widget
if pick is not None and pick != (current.id if current else None):
    st.query_params["run"] = str(pick)
    st.rerun()
show_live(current)

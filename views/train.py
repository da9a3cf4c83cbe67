"""Train: pick a preset or build a network, set its hyperparameters, start it, watch it learn, stop it."""
import streamlit as st

from fmnist import forms, jobs, presets, progress
from fmnist.config import ConfigError
from fmnist.store import QueueFull, StoreError
from views._common import lab_settings, store, user_name
from views._train_form import model_summary, notebook_figures, training_form
from views._train_live import show_live


def submit(config) -> dict[str, str]:
    """Queue the run and open it; returns the errors to show (none when it was queued)."""
    try:
        st.query_params["run"] = str(jobs.submit(config, run_store, settings))
    except QueueFull as exc:
        st.warning(str(exc))
    except (ConfigError, StoreError) as exc:
        return forms.field_errors(getattr(exc, "errors", {"model": str(exc)}))
    return {}


def run_whole_notebook() -> None:
    configs = forms.notebook_configs(user_name())
    queued, refused = forms.submit_all(configs, lambda c: jobs.submit(c, run_store, settings))
    st.success(f"Queued {len(queued)} of {len(presets.NOTEBOOK_KEYS)} notebook runs.")
    for message in refused:
        st.warning(message)


st.title("Train a model")
settings, run_store = lab_settings(), store()
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
form_col, summary_col = st.columns([2, 1], gap="medium")
with form_col:
    start, values, slots = training_form(base, f"{choice}-{kind}")
state = forms.read(values, base, user_name(), settings.max_params)
errors = submit(state.config) if start and state.config else state.errors
for name, message in errors.items():
    slots.get(name, summary_col).error(message)
with summary_col:
    model_summary(state, run_store, settings.max_params)
    if st.button("Run the whole notebook", help="Queue every notebook model with the notebook's own settings."):
        run_whole_notebook()

st.divider()
current, missing = progress.selected_run(st.query_params.get("run", ""), run_store)
if missing:
    st.warning(missing)
labels = progress.picker_labels(current, run_store)
pick = st.selectbox("Open an earlier run", list(labels), index=list(labels).index(current.id) if current else None,
                    format_func=labels.get, placeholder="Choose a run",
                    key=f"open-{current.id if current else ''}-{len(labels)}-{hash(tuple(labels.values()))}")
if pick is not None and pick != (current.id if current else None):
    st.query_params["run"] = str(pick)
    st.rerun()
show_live(current)

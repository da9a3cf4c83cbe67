"""The sweeps page's form: a preset, the hyperparameters to vary (values or ranges), sampler, cap, pruning."""
import streamlit as st

from fmnist import presets, supervisor, sweep_spec, sweeps
from fmnist.config import ConfigError
from views._common import lab_settings, store, user_name


def sweep_form() -> None:
    """Creates the sweep and opens it (?sweep=ID) when the form is sent and valid."""
    keys = [k for k, p in presets.all_presets().items() if p.config.is_keras]
    with st.form("new-sweep", enter_to_submit=False):  # Enter in a box would press "Start the sweep"
        cols = st.columns(4)
        preset = cols[0].selectbox("Model", keys, index=keys.index("mlp1"), format_func=_title, key="sweep_preset")
        epochs = cols[1].number_input("Epochs a trial", 1, 100, 2, key="sweep_epochs")
        subset = cols[2].number_input("Training images", 100, 42000, 2000, step=500, key="sweep_subset")
        trials = cols[3].number_input("Trial cap", 1, sweep_spec.MAX_TRIALS, 4, key="sweep_trials",
                                      help="The grid sampler stops sooner once every combination was tried.")
        left, right = st.columns(2)
        grid = left.text_area("Values to try, one hyperparameter a line", "lr=0.001,0.01", key="sweep_grid",
                              help=f"NAME=V1,V2,... Names: lr, {', '.join(sorted(sweep_spec.PARAMS))}")
        ranges = right.text_area("Ranges to sample (random or TPE), one a line", "", key="sweep_ranges",
                                 placeholder="lr=0.0001:0.1:log", help="NAME=LOW:HIGH, or NAME=LOW:HIGH:log")
        cols = st.columns(3)
        sampler = cols[0].radio("Sampler", sweep_spec.SAMPLERS, horizontal=True, key="sweep_sampler",
                                format_func={"grid": "grid", "random": "random", "tpe": "TPE (model-based)"}.get)
        prune = cols[1].selectbox("Prune poor trials", [None, *sweep_spec.PRUNERS], key="sweep_prune",
                                  format_func=lambda p: {"median": "below the median", "halving": "successive halving",
                                                         None: "never"}[p])
        name = cols[2].text_input("Sweep name (optional)", key="sweep_name", max_chars=80)
        sent = st.form_submit_button("Start the sweep", type="primary")
    if sent:
        _start(preset, int(epochs), int(subset), grid, ranges, sampler, int(trials), prune, name)


def _title(key: str) -> str:
    return f"{presets.get(key).title} ({key})"


def _start(preset, epochs, subset, grid, ranges, sampler, trials, prune, name) -> None:
    try:
        base = presets.config_for(preset, epochs=epochs, subset=subset, user=user_name())
        space = dict(sweep_spec.parse_grid(line) for line in grid.splitlines() if line.strip())
        sampled = dict(sweep_spec.parse_range(line) for line in ranges.splitlines() if line.strip())
        spec = sweep_spec.make_spec(base, space, sampled, sampler, trials, prune)
        sweep_id = sweeps.create(store(), lab_settings(), spec, name=name, user=user_name())
    except ConfigError as exc:
        st.error("  \n".join(exc.errors.values()))
        return
    supervisor.ensure_thread(lab_settings()).wake()  # queue its first trials now, not at the next tick
    st.query_params["sweep"] = str(sweep_id)
    st.rerun()

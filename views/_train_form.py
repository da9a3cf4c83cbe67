"""The train page's form and model summary: one widget a field, the summary of the network as typed."""
import pandas as pd
import streamlit as st

from fmnist import forms, layer_table, presets, progress

# widths in px that fit the summary's third of the page (about 270 px) without cutting a cell
SUMMARY_COLUMNS = {"Layer": st.column_config.TextColumn(width=112),
                   "Output": st.column_config.TextColumn(width=74, help="One image's output (Keras adds a batch axis)"),
                   "Params": st.column_config.NumberColumn(width=78, format="localized")}


def field_widget(field: forms.Field, value, key: str):
    kw = {"label": field.label, "help": field.help or None, "key": key}
    if field.widget == "bool":
        return st.checkbox(value=value, **kw)
    if field.widget == "choice":
        return st.selectbox(options=field.options, index=field.options.index(value), **kw)
    if field.widget == "area":
        return st.text_area(value=value, **kw)
    # numbers too: text boxes keep what was typed
    return st.text_input(value=value, placeholder=field.placeholder or None, **kw)


def notebook_figures(preset: presets.Preset) -> None:
    nb, cols = preset.notebook, st.columns(5)
    figures = [("Params (notebook)", f"{nb.params:,}" if nb.params else "-"), ("Train accuracy", f"{nb.train:.4f}"),
               ("Val accuracy", f"{nb.val:.4f}"), ("Test accuracy", f"{nb.test:.4f}"), ("Epochs", nb.epochs)]
    for col, (name, value) in zip(cols, figures):
        col.metric(name, value)


def training_form(base, key: str) -> tuple[bool, dict, dict]:
    """(Start pressed, {field: value}, {field: placeholder for its error})."""
    defaults, values, slots = forms.initial_values(base), {}, {}
    with st.form(f"train-{key}", enter_to_submit=False):  # Enter in a box would press "Start training"
        for group, heading in (("model", "Layers"), ("training", "Training")):
            fields = forms.fields_for(base.model.kind, group)
            st.markdown(f"**{heading}**" if fields else "")
            for i, field in enumerate(fields):
                if i % 3 == 0:
                    cols = st.columns(3)
                with cols[i % 3]:
                    values[field.name] = field_widget(field, defaults[field.name], f"{key}-{field.name}")
                    slots[field.name] = st.empty()
        buttons = st.columns(3)
        start = buttons[0].form_submit_button("Start training", type="primary")
        buttons[1].form_submit_button("Update the summary")
    return start, values, slots


def model_summary(state: forms.FormState, runs, max_params: int) -> None:
    """The user's network layer by layer, or why it cannot be shown yet."""
    if state.draft is None:
        st.markdown("**Model summary**")
        st.info("The summary shows your network once the layer fields are fixed (see the messages there).")
        return
    table = layer_table.rows(state.draft)
    st.markdown(f"**Model summary** · {layer_table.total(table):,} parameters (the cap is {max_params:,})")
    if not table:
        st.caption("Not a neural network: no layers to list, and it trains in one step.")
        return
    st.dataframe(pd.DataFrame(table), hide_index=True, column_config=SUMMARY_COLUMNS)
    guess = progress.expected_epoch(state.draft, runs)
    st.caption(guess.text() if guess else "Expected time per epoch: unknown until the first epoch")

"""The results page's seed groups: runs of one configuration repeated with other seeds, their mean and
spread of each accuracy, and their validation curves as a band."""
import streamlit as st

from fmnist import charts, seeds

STATS = {f"{label} {stat}": st.column_config.NumberColumn(format="%.4f") for label in ("Train", "Val", "Test")
         for stat in ("mean", "std")}


def seed_groups(db) -> None:
    groups = seeds.grouped_runs(db)
    if not groups:
        return
    st.subheader("Repeated with other seeds")
    st.caption("Each row is one configuration trained with several random seeds: the mean of each accuracy over "
               "its finished runs and their standard deviation (sample). A difference between two "
               "configurations smaller than a few standard deviations may be noise. Test figures count only "
               "runs whose test evaluation was opened.")
    frame = seeds.group_frame(groups)
    st.dataframe(frame.drop(columns=["Group"]), hide_index=True, key="seed_groups", column_config=STATS)
    labels = {key: f"{row.Model} ({row.Runs} runs)" for key, row in zip(frame["Group"], frame.itertuples())}
    picked = st.multiselect("Groups to draw", list(labels), default=list(labels)[:2], format_func=labels.get,
                            key="seed_band_groups")
    curves = {labels[key]: seeds.group_curves(db, groups[key]) for key in picked}
    st.plotly_chart(charts.seed_band(curves, "val_accuracy"), key="seed_band")

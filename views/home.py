"""Home: what the lab is, the dataset in numbers, why accuracy, and the notebook's path through the lab."""
import streamlit as st

from fmnist.data import CLASS_NAMES

st.title(":material/checkroom: Fashion-MNIST Lab")
st.markdown("Teach a computer to tell a **sneaker** from a **sandal**: explore the data, train the classroom "
            "notebook's models or your own, watch them learn live, compare every run, and test the one you pick.")

cols = st.columns(4)
cols[0].metric("Training images", "60,000", help="Split 70/30 into 42,000 train and 18,000 validation")
cols[1].metric("Test images", "10,000", help="Kept aside until a final model is chosen")
cols[2].metric("Classes", "10", help="6,000 training images each: perfectly balanced")
cols[3].metric("Image size", "28 × 28", help="Grayscale, 0-255, light garment on a dark background")
st.caption("Classes: " + " · ".join(CLASS_NAMES))

left, right = st.columns(2)
with left:
    st.subheader("Why accuracy?")
    st.markdown("The ten classes are **balanced** and **equally important**: no garment matters more than another, "
                "and a model cannot score well by favouring a big class. So the share of images labelled "
                "correctly, *accuracy*, is a fair single number. Always guessing one class scores 10%.")
with right:
    st.subheader("What a confusion matrix adds")
    st.markdown("Accuracy says *how often* a model is wrong, not *how*. The confusion matrix shows which classes "
                "it mixes up: shirts, T-shirts, pullovers and coats look alike at 28 × 28 pixels, and that is "
                "where most errors live.")

st.subheader("The notebook's path through the lab")
steps = [
    ("views/data.py", "1. Look at the data", "sample images, class balance, what each class looks like"),
    ("views/train.py", "2. Baselines", "the majority class and a random forest: the scores to beat"),
    ("views/train.py", "3. Fully connected networks", "one hidden layer, then deeper, wider, with dropout"),
    ("views/train.py", "4. Convolution", "networks that see shapes and edges, not single pixels"),
    ("views/train.py", "5. Transfer learning", "a pre-trained ResNet50, and how to make it work at 28 px"),
    ("views/results.py", "6. Final model on the test set", "pick on validation accuracy, then check it once on test"),
    ("views/sketch.py", "7. Draw a garment", "see what a trained model predicts, and why"),
]
for page, label, text in steps:
    st.page_link(page, label=f"**{label}**: {text}")

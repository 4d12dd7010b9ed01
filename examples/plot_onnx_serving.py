"""
==============================
Serving a pipeline with ONNX
==============================

``import sk_dae.onnx`` registers converters for both estimators with
`skl2onnx <https://onnx.ai/sklearn-onnx/>`_, so ``skl2onnx.to_onnx`` converts
a fitted :class:`~sk_dae.DenoisingAutoencoderTransformer`, or any pipeline
that holds one. onnxruntime then serves the graph with no torch,
scikit-learn or sk_dae installed.

This example converts the transformer alone and a whole classification
pipeline, checks that onnxruntime gives what Python gives (on images with
missing pixels too) and times both ways at 1 and at 540 rows per call. It
trains for 20 epochs on scikit-learn's digits; the full serving benchmark
(``python benchmarks/serve.py --dataset fashion-mnist``) is on
:doc:`/user_guide/onnx`. It needs the ``onnx`` extra:
``pip install -e ".[onnx]"`` in a clone of the repository.
"""

# %%
# A fitted pipeline
# -----------------
#
# The graphs compute in the input's float dtype, so the data is cast to
# float32 before fitting and converting.

import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import sk_dae.onnx  # noqa: F401  (registers the converters with skl2onnx)
from sk_dae import DenoisingAutoencoderTransformer

X, y = load_digits(return_X_y=True)
X = X.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

pipe = make_pipeline(
    MinMaxScaler(),
    DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(64,), max_epochs=20, random_state=0
    ),
    StandardScaler(),
    LogisticRegression(max_iter=2000),
).fit(X_train, y_train)
print(f"test accuracy: {pipe.score(X_test, y_test):.3f}")

# %%
# The transformer alone
# ---------------------
#
# The DAE step is converted from a sample of its own input (the scaled
# rows). ``SerializeToString`` gives the bytes an ``.onnx`` file holds;
# onnxruntime takes either the bytes or a path. The graph's input is named
# ``"X"``, skl2onnx's name for a single unnamed array.

scaled_test = pipe[:1].transform(X_test)
dae = pipe.named_steps["denoisingautoencodertransformer"]
dae_onnx = to_onnx(dae, scaled_test[:1])
dae_session = ort.InferenceSession(
    dae_onnx.SerializeToString(), providers=["CPUExecutionProvider"]
)
(codes_onnx,) = dae_session.run(None, {"X": scaled_test})
codes = dae.transform(scaled_test)
print(f"ONNX graph: {len(dae_onnx.SerializeToString()) / 1024:.0f} KiB")
print(f"codes: max |onnxruntime - transform| = {np.abs(codes_onnx - codes).max():.2e}")

# %%
# Missing pixels (NaN) enter the graph as they enter ``transform``: as the
# fitted ``input_fill_`` (0 here).

holed = scaled_test.copy()
holed[::2, ::3] = np.nan
(codes_onnx,) = dae_session.run(None, {"X": holed})
difference = np.abs(codes_onnx - dae.transform(holed)).max()
print(f"codes with holes: max |onnxruntime - transform| = {difference:.2e}")

# %%
# The whole pipeline
# ------------------
#
# ``zipmap=False`` makes the classifier's probabilities a plain array rather
# than a list of dictionaries. The session returns the labels and the
# probabilities.

pipe_onnx = to_onnx(pipe, X_train[:1], options={"zipmap": False})
pipe_session = ort.InferenceSession(
    pipe_onnx.SerializeToString(), providers=["CPUExecutionProvider"]
)
labels, probabilities = pipe_session.run(None, {"X": X_test})
print(f"same labels as predict: {np.mean(labels == pipe.predict(X_test)):.3f}")
difference = np.abs(probabilities - pipe.predict_proba(X_test)).max()
print(f"probabilities: max |onnxruntime - predict_proba| = {difference:.2e}")

# %%
# Timing
# ------
#
# The median time of a call, for one row and for the whole test set, of the
# pipeline's ``predict_proba`` (in Python) and of the session. Timings on a shared
# machine are noisy; the benchmark alternates the two over many rounds.


def median_seconds(function, rows, repeats=50):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(rows)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def serve(rows):
    return pipe_session.run(None, {"X": rows})


sizes = {"1 row": X_test[:1], f"{len(X_test)} rows": X_test}
timings = {
    "predict_proba": [
        median_seconds(pipe.predict_proba, rows) for rows in sizes.values()
    ],
    "onnxruntime": [median_seconds(serve, rows) for rows in sizes.values()],
}
for k, size in enumerate(sizes):
    print(
        f"{size:>8}: predict_proba {timings['predict_proba'][k] * 1e6:6.0f} µs, "
        f"onnxruntime {timings['onnxruntime'][k] * 1e6:6.0f} µs"
    )

# %%
# The same timings as bars, on a logarithmic axis.

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
positions = np.arange(len(sizes))
for offset, (name, seconds) in zip([-0.2, 0.2], timings.items(), strict=True):
    ax.bar(positions + offset, np.array(seconds) * 1e6, width=0.4, label=name)
ax.set_xticks(positions, list(sizes))
ax.set_yscale("log")
ax.set_ylabel("median time per call (µs)")
ax.legend(fontsize=8)
plt.show()

"""Try DAE settings on a dataset: the search behind the recommended settings.

Each setting (a JSON object of DenoisingAutoencoderTransformer parameters, or
"raw" or "pcaN") is fitted on the training rows; an SVC (rbf, C=10) and a
linear probe are trained on its standardized features and scored on the test
set, as in ``compare_features.py``. One line per setting.

    python benchmarks/try_settings.py --dataset fashion-mnist --n-train 10000 \\
        '"raw"' '{"hidden_layer_sizes": [2000], "loss": "bce", "max_epochs": 30}'
"""

import argparse
import json
import time

from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae.datasets import load_dataset


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", nargs="+", help="JSON: parameters, 'raw' or 'pcaN'")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--n-train", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = load_dataset(
        args.dataset, args.data_dir, n_train=args.n_train, random_state=args.seed
    )
    for setting in map(json.loads, args.settings):
        start = time.perf_counter()
        if setting == "raw":
            F_train, F_test = X_train, X_test
        else:
            if isinstance(setting, str):
                model = PCA(int(setting.removeprefix("pca")), random_state=args.seed)
            else:
                model = DenoisingAutoencoderTransformer(
                    random_state=args.seed, **setting
                )
            F_train = model.fit_transform(X_train)
            F_test = model.transform(X_test)
        fit_s = time.perf_counter() - start
        scores = {}
        for name, clf in (
            ("svc", SVC(C=10)),
            ("linear", LogisticRegression(max_iter=1000)),
        ):
            pipe = make_pipeline(StandardScaler(), clf).fit(F_train, y_train)
            scores[name] = round(pipe.score(F_test, y_test), 4)
        print(json.dumps({"setting": setting, **scores, "fit_s": round(fit_s, 1)}))


if __name__ == "__main__":
    main()

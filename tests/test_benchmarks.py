"""Smoke runs of the benchmark scripts on tiny settings: each produces its table,
a well-formed JSON and readable PNG files."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_datasets import write_idx_folder

ROOT = Path(__file__).resolve().parents[1]


def _run(script, *args):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _assert_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000


def test_compare_features_on_digits(tmp_path):
    out = _run("compare_features.py", "--max-epochs", "2", "--out", str(tmp_path))
    assert "| DAE reference |" in out and "| PCA(" in out and "| RBM(" in out
    report = json.loads((tmp_path / "digits" / "compare_features.json").read_text())
    assert report["n_test"] == 540
    extractors = {r["extractor"] for r in report["results"]}
    assert {"raw pixels", "DAE recommended", "DAE reference"} <= extractors
    assert len(report["results"]) == 2 * len(extractors)
    assert all(0 <= r["accuracy"] <= 1 for r in report["results"])
    assert report["environment"]["torch"]
    for name in report["figures"]:
        _assert_png(tmp_path / "digits" / name)
    assert set(report["figures"]) == {
        "accuracy.png",
        "loss_curve.png",
        "filters.png",
        "reconstructions.png",
        "reconstructions_missing.png",
    }


def test_compare_features_on_an_idx_folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_idx_folder(data, n_train=60, n_test=20, side=28)
    out = _run(
        "compare_features.py",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(data),
        "--n-train",
        "40",
        "--max-epochs",
        "1",
        "--skip",
        "svc",
        "--out",
        str(tmp_path),
    )
    assert "40 training rows, 20 test rows" in out
    report = json.loads(
        (tmp_path / "fashion-mnist" / "compare_features.json").read_text()
    )
    assert {r["classifier"] for r in report["results"]} == {"linear probe"}


def test_compare_features_missing_data_says_how_to_get_it(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "compare_features.py"),
            "--dataset",
            "fashion-mnist",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "apt-get install dataset-fashion-mnist" in result.stderr


def test_corruption_grid_on_digits(tmp_path):
    out = _run(
        "corruption_grid.py",
        "--max-epochs",
        "1",
        "--levels",
        "0",
        "0.3",
        "--noises",
        "mask",
        "swap",
        "--cv",
        "2",
        "--out",
        str(tmp_path),
    )
    assert "| mask |" in out and "| swap |" in out
    report = json.loads((tmp_path / "digits" / "corruption_grid.json").read_text())
    assert set(report["points"]) == {"mask", "swap"}
    assert all(len(points) == 2 for points in report["points"].values())
    _assert_png(tmp_path / "digits" / "corruption_grid.png")


def test_speed_smoke(tmp_path):
    out = _run("speed.py", "--smoke", "--out", str(tmp_path))
    assert "| MLPRegressor |" in out and "| hand-written torch loop |" in out
    report = json.loads((tmp_path / "speed.json").read_text())
    seconds = report["cpu_seconds_per_epoch"]
    assert set(seconds) == {
        "sk_dae",
        "MLPRegressor",
        "skorch NeuralNetRegressor",
        "hand-written torch loop",
    }
    assert all(s > 0 for s in seconds.values())
    transform = report["transform_seconds"]
    assert transform["pca"] > 0 and transform["sk_dae"] > 0
    assert report["transform_ratio_over_pca"] == transform["ratio"] > 0
    assert "machine's GEMM rate" in out and "partial_fit reaches" in out
    for rates in report["step_rates"].values():
        assert rates["machine_gflops"] > 0 and rates["fit_gflops"] > 0


def test_try_settings_prints_one_json_line_per_setting():
    out = _run(
        "try_settings.py",
        '"raw"',
        '"pca10"',
        '{"hidden_layer_sizes": [8], "max_epochs": 1}',
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["setting"] for line in lines][:2] == ["raw", "pca10"]
    assert all(0 < line["svc"] <= 1 and 0 < line["linear"] <= 1 for line in lines)


@pytest.mark.parametrize(
    "variant",
    [
        "plain",
        "average-maskings",
        "refeed",
        "indicator",
        "code-neighbours",
        "subsample",
        "own-module",
        "linear-skip",
    ],
)
def test_try_imputer_prints_one_line_per_setting(variant):
    out = _run(
        "try_imputer.py",
        '{"max_epochs": 2}',
        '{"max_epochs": 2, "n_estimators": 2}',
        *("--tables", "iris", "--seeds", "0", "1", "--variant", variant),
    )
    lines = out.splitlines()
    assert len(lines) == 2 and all(f" {variant}: iris " in line for line in lines)
    assert all("x best" in line and "geo/iterative" in line for line in lines)


def test_try_imputer_scales_the_auto_budget_on_a_synthetic_table():
    out = _run("try_imputer.py", '{"epochs_scale": 0.01}', "--tables", "clusters")
    assert out.startswith('{"epochs_scale": 0.01} plain: clusters ')


def test_try_imputer_resolves_the_network_knobs_from_the_table(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from try_imputer import _resolved

    from sk_dae._imputer import _auto_layers

    assert _auto_layers(50) == (100, 100, 100)
    assert _resolved({"depth": 2}, (300, 50)) == {"hidden_layer_sizes": (100, 100)}
    assert _resolved({"width_scale": 0.5, "lr": 0.1}, (300, 50)) == {
        "hidden_layer_sizes": (50, 50, 50),
        "lr": 0.1,
    }
    # At least 8 units, however small the scale.
    assert _resolved({"width_scale": 0.01, "depth": 1}, (300, 4)) == {
        "hidden_layer_sizes": (8,)
    }
    assert _resolved({}, (300, 50)) == {}


def test_try_imputer_linear_skip_regresses_each_column_on_the_others(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import torch
    from try_imputer import _SkipStack

    module = _SkipStack(4, skip=True)
    for p in module.decoders.parameters():
        torch.nn.init.zeros_(p)  # the output is the linear map alone
    torch.nn.init.ones_(module.skip.weight)
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    # Column j gets the sum of the others: its own entry never reaches it.
    out = module.decode(module.encode(x))
    assert torch.equal(out, torch.tensor([[9.0, 8.0, 7.0, 6.0]]))
    assert _SkipStack(4).encode(x).shape == (1, 64)  # no map: the codes alone


def test_impute_reports_the_unseen_tables_apart(tmp_path):
    out = _run("impute.py", "--smoke", "--unseen", "crabs", "--out", str(tmp_path))
    report = json.loads((tmp_path / "impute.json").read_text())
    if not report["unseen"]:  # no Rscript or no MASS (CI's machine): left out
        assert shutil.which("Rscript") is None or "crabs" not in out
        assert "Tables no default was chosen on" not in out
        return
    assert "Tables no default was chosen on" in out and "| crabs | 30% |" in out
    assert {r["shape"][1] for r in report["unseen"]} == {5}  # index dropped
    assert report["unseen_targets"]["DAE"]["within_1.1"] in (0, 1)


def test_fit_memory_reports_peak_against_data_size():
    out = _run("fit_memory.py", "--rows", "2000", "--features", "50")
    assert "x the data" in out and "peak RSS" in out


def test_scale_smoke(tmp_path):
    out = _run("scale.py", "--smoke", "--out", str(tmp_path))
    assert "| 2 workers |" in out and "featurization" in out
    report = json.loads((tmp_path / "scale.json").read_text())
    assert set(report["grid_search_seconds"]) == {
        "in-process",
        "1 workers",
        "2 workers",
    }
    assert report["featurization"]["codes_finite"]


def test_out_of_core_smoke():
    out = _run("out_of_core.py", "--rows", "3000", "--chunk-rows", "1000")
    assert "memmap" in out and "codes finite: True" in out


def test_ab_engine_against_this_checkout():
    out = _run("ab_engine.py", str(ROOT), "--smoke")
    assert "2 rounds: this checkout" in out and "median of per-round ratios" in out


def test_ab_engine_hand_derived_against_autograd():
    out = _run("ab_engine.py", "--autograd", "--fashion", "--smoke")
    assert "784-2000-784 bce, 2 rounds: hand-derived" in out and "autograd" in out


def test_ab_engine_times_the_imputer_on_one_of_rs_tables():
    args = [str(ROOT / "benchmarks" / "ab_engine.py"), str(ROOT), "--imputer"]
    result = subprocess.run(
        [sys.executable, *args, "--table", "crabs", "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode:  # no Rscript or no MASS (CI's machine)
        assert "crabs could not be loaded" in result.stderr
        return
    assert "crabs 200 x 5, the imputer's fit, 30% holes, 2 rounds" in result.stdout


def test_ab_engine_times_the_imputers_fit():
    out = _run("ab_engine.py", str(ROOT), "--imputer", "--smoke")
    assert "500 x 13, the imputer's fit, 30% holes, 2 rounds: this" in out
    out = _run("ab_engine.py", "--autograd", "--imputer", "--smoke")
    assert "fit, 30% holes, 2 rounds: hand-derived" in out and "s / fit" in out


def test_speed_under_load_smoke(tmp_path):
    out = _run("speed.py", "--under-load", "--smoke", "--out", str(tmp_path))
    assert "| sk_dae fit |" in out and "| torch loop |" in out and "busy process" in out
    report = json.loads((tmp_path / "speed.json").read_text())["under_load"]
    assert {row["workload"] for row in report["rows"]} == {
        "sk_dae fit",
        "sk_dae imputer",
        "MLPRegressor",
        "torch loop",
    }
    assert all(row["quiet_s"] > 0 for row in report["rows"])


def test_partial_fit_stream_against_this_checkout():
    out = _run("partial_fit_stream.py", "--base", str(ROOT), "--calls", "20")
    assert "| this |" in out and "| base |" in out and "last / first" in out


def test_ensemble_smoke():
    out = _run("ensemble.py", "--smoke")
    for way in ("one", "bmm", "vmap", "loop"):
        assert f"| {way} |" in out
    assert "| 5 |" in out and "over one member's" in out


def test_impute_smoke(tmp_path):
    out = _run("impute.py", "--smoke", "--out", str(tmp_path))
    assert "| iris | 30% |" in out and "Geometric mean of DAE x5" in out
    assert "Sliced Wasserstein" in out and "Downstream" in out
    assert "Rubin's rules" in out and "RMSE against rows" in out
    assert "Synthetic tables of the kinds where the DAE loses" in out
    report = json.loads((tmp_path / "impute.json").read_text())
    # The process's first fit (torch's lazy imports) is a warm-up of its own,
    # printed apart, so that no table's time carries it.
    assert report["warm_up_seconds"] > 0
    assert "The warm-up fit, first of the process" in out
    imputers = {r["imputer"] for r in report["results"]}
    assert imputers == {"mean", "KNN", "iterative", "forest", "DAE", "DAE x3", "DAE x5"}
    for r in report["results"]:
        assert np.isfinite(r["rmse"]) and r["rmse"] > 0
        assert np.isfinite(r["swd"]) and r["swd"] >= 0
        assert 0 < r["downstream"] <= 1  # iris: an accuracy
    # The mean imputer puts every hole at one value: the farthest distribution.
    swd = {r["imputer"]: r["swd"] for r in report["results"]}
    assert swd["mean"] == max(swd.values())
    assert {r["rows"] for r in report["scaling"]} == {200, 400}
    assert {r["data"] for r in report["kinds"]} == {"clusters"}
    assert all(np.isfinite(r["rmse"]) for r in report["kinds"])
    posterior = report["multiple_imputation"]
    assert 0 <= posterior["coverage_90"] <= 1
    pooled, single = (
        posterior["slope_pooled_20_draws"],
        posterior["slope_single_imputation"],
    )
    assert pooled[1] > 0 and single[1] > 0
    _assert_png(tmp_path / "impute_scaling.png")


def test_impute_inpainting_on_an_idx_folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_idx_folder(data, n_train=60, n_test=20, side=28)
    out = _run(
        "impute.py",
        *("--tables", "--fractions", "0.5", "--scaling-rows"),
        *("--fashion-rows", "40", "--data-dir", str(data), "--max-epochs", "1"),
        *("--out", str(tmp_path)),
    )
    assert "| fashion-mnist pixels | 50% |" in out
    report = json.loads((tmp_path / "impute.json").read_text())
    # IterativeImputer is left out at 784 columns.
    assert {r["imputer"] for r in report["results"]} == {"mean", "KNN", "DAE"}
    _assert_png(tmp_path / "impute_inpainting.png")


def test_robustness_smoke(tmp_path):
    override = '{"consistency": 0.5, "emphasis": [1.0, 1.0]}'
    out = _run(
        "robustness.py", "--smoke", "--dae-params", override, "--out", str(tmp_path)
    )
    assert "DAE(100), recipe" in out and "3x3 square" in out
    assert "Share of the clean accuracy kept" in out
    report = json.loads((tmp_path / "digits" / "robustness.json").read_text())
    results = report["results"]
    conditions = {r["condition"] for r in results}
    assert conditions == {"clean", "50% at random", "3x3 square", "4x4 square"}
    assert all(0 <= r["accuracy"] <= 1 for r in results)
    # Each DAE is fitted once per seed; the baselines once.
    seeds = {(r["features"], r["seed"]) for r in results}
    assert {s for f, s in seeds if f.startswith("DAE")} == {0, 1}
    # The recipe, with the overrides of the command line.
    assert report["dae"]["input_fill"] == "learned"
    assert report["dae"]["consistency"] == 0.5
    assert report["dae"]["emphasis"] == [1.0, 1.0]
    assert report["dae"]["max_epochs"] == 2
    clean = [r for r in results if r["condition"] == "clean"]
    assert all(r["kept"] == 1.0 for r in clean)
    _assert_png(tmp_path / "digits" / "robustness.png")


def test_serve_smoke(tmp_path):
    out = _run("serve.py", "--smoke", "--out", str(tmp_path))
    assert "| 1,024 |" in out
    report = json.loads((tmp_path / "serve.json").read_text())
    assert [r["rows"] for r in report["results"]] == [1, 32, 1024]
    assert report["model"]["max_abs_difference"] < 1e-5
    for row in report["results"]:
        for method in ("transform", "onnxruntime", "torch encode"):
            timing = row[method]
            assert timing["calls"] >= 3 and 0 < timing["median_s"] <= timing["p99_s"]
        assert row["speedup"] > 0


def test_mixed_tables_smoke(tmp_path):
    sections = ("--downstream", "--features")
    out = _run("mixed_tables.py", "--smoke", *sections, "--out", str(tmp_path))
    assert "| DAE column |" in out and "| DAE one-hot |" in out
    assert "Expected calibration error" in out
    report = json.loads((tmp_path / "mixed_tables.json").read_text())
    assert {r["method"] for r in report["results"]} >= {"mode/mean", "DAE column"}
    assert all(0 <= r["error"] <= 1 for r in report["results"])
    assert 0 <= report["calibration"]["ece"] <= 1
    assert report["chosen_weighting"] in {"column", "log_levels", "levels"}
    assert "| DAE numeric part |" in out
    runs = report["scale"]["runs"]
    assert [r["method"] for r in runs] == [
        "DAE, whole table",
        "IterativeImputer, numeric part",
    ]
    assert runs[0]["over_iterative"] > 0 and 0 <= runs[0]["error"] <= 1
    # Downstream: the classifier on the complete table and on each fill.
    assert "## Downstream" in out
    downstream = report["downstream"]
    methods = [r["method"] for r in downstream["rows"]]
    assert methods[0] == "complete table" and "KNN one-hot" in methods
    assert methods[-1] == "DAE levels"
    assert all(0 < r["accuracy"] <= 1 for r in downstream["rows"])
    assert all(r["target"] == "target" for r in downstream["rows"])  # iris's class
    # Features: each representation under each classifier, fitted per fold.
    features = report["features"]
    assert {r["method"] for r in features["rows"]} == {
        f"{rep}, {clf}"
        for rep in ("one-hot columns", "PCA (95%)", "DAE(32) codes")
        for clf in ("logistic", "HistGB")
    }
    assert all(0 < r["accuracy"] <= 1 for r in features["rows"])


def test_mar_holes_depend_on_the_driver_column(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import mixed_tables

    frame = mixed_tables.scale_frame(4000, seed=0)
    _, removed = mixed_tables.with_holes(frame, 0.3, 0, "mar")
    driver = list(frame.columns).index(mixed_tables.mar_driver(frame))
    assert not removed[:, driver].any()
    high = (frame.iloc[:, driver] > frame.iloc[:, driver].median()).to_numpy()
    others = np.delete(removed, driver, axis=1)
    assert abs(others.mean() - 0.3) < 0.02  # the fraction, on average
    assert others[high].mean() > 0.4 and others[~high].mean() < 0.2


def test_kernels_smoke():
    out = _run("kernels.py", "--smoke", "--fit")
    assert out.count("machine GEMM rate for the step") == 2
    assert out.count("partial_fit reaches") == 2
    assert "| product | m x k x n | torch.addmm (MKL) |" in out
    assert "| weight's gradient, decoder | 784 x 100 x 2000 |" in out


def test_compile_trial_smoke():
    out = _run("compile_trial.py", "--smoke")
    for trainer in ("sk_dae partial_fit", "torch eager"):
        assert f"| 16 | {trainer} |" in out
    # Where inductor finds no C++ compiler the script says so instead.
    compiled = "| 16 | torch.compile |" in out
    assert compiled == ("| 16 | (compile, first two steps) |" in out)
    assert compiled or "torch.compile at width 16 failed:" in out


def test_a_steps_flops_are_its_five_products(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import kernels

    assert kernels.step_flops(784, 2000, 100) == 5 * 2 * 100 * 784 * 2000

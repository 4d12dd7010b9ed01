"""The order of the example gallery: from the first thing a user does to
deployment and scale-out, rather than alphabetical."""

ORDER = [
    "plot_grid_search_corruption.py",
    "plot_filters.py",
    "plot_reconstructions.py",
    "plot_missing_pixels.py",
    "plot_imputer_column_transformer.py",
    "plot_anomaly_scores.py",
    "plot_onnx_serving.py",
    "plot_dask_grid_search.py",
]


class ExampleOrder:
    """A sphinx-gallery ``within_subsection_order`` key: the position in
    ``ORDER``; an example not listed there comes after, by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in ORDER:
            return (ORDER.index(filename), filename)
        return (len(ORDER), filename)

"""Blockwise featurization of Dask collections (needs ``dask``; optional).

``dask.array.map_blocks`` cannot take the fitted model as a graph node, and
dask-ml's ``ParallelPostFit`` declares the transformed array with the input's
width. :func:`transform_blocks` does it right: the model is one node of the graph,
sent once to each worker that needs it, and every block is transformed where it
lives, so a worker holds one block and its codes at a time.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["transform_blocks"]


def transform_blocks(model, X):
    """``model.transform`` of a dask array or dask dataframe, block by block.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~sk_dae.DenoisingAutoencoderTransformer`, or any
        fitted transformer with ``get_feature_names_out``.
    X : dask.array.Array of shape (n_samples, n_features) or dask.dataframe
        Rows may be chunked freely; an array's columns are merged into one chunk.

    Returns
    -------
    codes : dask.array.Array or dask.dataframe.DataFrame
        Lazy; ``.compute()`` it, or reduce or store it blockwise.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sk_dae import DenoisingAutoencoderTransformer
    >>> from sk_dae.dask import transform_blocks
    >>> X = np.random.default_rng(0).random((100, 8))
    >>> dae = DenoisingAutoencoderTransformer(
    ...     hidden_layer_sizes=(3,), max_epochs=2, random_state=0
    ... ).fit(X)
    >>> codes = transform_blocks(dae, da.from_array(X, chunks=(25, 8)))
    >>> codes.shape, codes.numblocks
    ((100, 3), (4, 1))
    >>> codes.compute().shape
    (100, 3)
    """
    import dask
    import dask.array as da
    import dask.dataframe as dd

    check_is_fitted(model)
    names = list(model.get_feature_names_out())
    remote = dask.delayed(model, pure=True)
    if isinstance(X, dd.DataFrame):
        import pandas as pd

        def transform_part(part, fitted):
            return pd.DataFrame(fitted.transform(part), columns=names, index=part.index)

        numeric = all(np.issubdtype(d, np.number) for d in _numpy_dtypes(X))
        # A table with categorical columns is encoded in float64.
        dtype = np.result_type(*X.dtypes, np.float32) if numeric else np.float64
        meta = pd.DataFrame(columns=names, dtype=dtype)
        return X.map_partitions(transform_part, remote, meta=meta)
    X = X.rechunk({1: -1})
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    transform = dask.delayed(lambda fitted, block: fitted.transform(block), pure=True)
    blocks = [
        da.from_delayed(transform(remote, block), (n_rows, len(names)), dtype=dtype)
        for block, n_rows in zip(X.to_delayed().ravel(), X.chunks[0], strict=True)
    ]
    return da.concatenate(blocks)


def _numpy_dtypes(frame):
    """The frame's dtypes as numpy dtypes; object for one that numpy lacks
    (a category, a string)."""
    dtypes = []
    for dtype in frame.dtypes:
        try:
            dtypes.append(np.dtype(dtype))
        except TypeError:
            dtypes.append(np.dtype(object))
    return dtypes

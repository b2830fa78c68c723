"""WOODELF backend: exact path-dependent TreeSHAP for a LightGBM booster, vectorised over rows.

``woodelf-explainer`` reads LightGBM models through treelite, which rejects categorical splits. This
module builds WOODELF's tree objects straight from ``booster.dump_model()`` instead, with a node class
that routes rows exactly as LightGBM does (missing types ``None`` / ``Zero`` / ``NaN``, default
direction, categorical bitsets), so models with pandas categoricals are explained exactly too. Node
covers are LightGBM's own ``internal_count`` / ``leaf_count``, the weights its ``pred_contrib`` uses.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import ClassVar

import numpy as np

_ZERO = 1e-35  # LightGBM's kZeroThreshold


class _Mask(np.ndarray):
    """A boolean array with the two pandas methods WOODELF calls on a split's result."""

    def to_numpy(self):
        return self.view(np.ndarray)


class _Column:
    """One feature's values as the splits read them, each form computed once on first use."""

    def __init__(self, raw: np.ndarray):
        self.raw = raw

    @functools.cached_property
    def nan(self) -> np.ndarray:
        return np.isnan(self.raw)

    @functools.cached_property
    def zeroed(self) -> np.ndarray:
        return np.where(self.nan, 0.0, self.raw)

    @functools.cached_property
    def zero(self) -> np.ndarray:
        return np.abs(self.zeroed) <= _ZERO

    @functools.cached_property
    def codes(self) -> np.ndarray:
        return np.where(self.nan, -1, self.raw).astype(np.int64)


def _node_classes():
    from woodelf.core.trees.decision_trees_ensemble import DecisionTreeNode

    class LightGBMNode(DecisionTreeNode):
        """A split that goes left exactly when LightGBM's ``NumericalDecision`` would.

        ``columns`` (shared by the class) maps feature name -> :class:`_Column` of the rows being
        explained, so a split reads prepared arrays instead of re-testing NaN at every node.
        """

        missing = "None"
        categories = None
        columns: ClassVar[dict] = {}

        def shall_go_left(self, row, GPU=False):
            column = self.columns[self.feature_name]
            if self.categories is not None:
                # CategoricalDecision: NaN and negative codes go right; left iff the code is in
                # the set.
                left = np.isin(column.codes, self.categories)
            elif self.missing == "NaN":
                left = np.where(column.nan, self.nan_go_left, column.raw <= self.value)
            else:
                left = column.zeroed <= self.value  # missing types None / Zero: NaN is 0.0
                if self.missing == "Zero":
                    left = np.where(column.zero, self.nan_go_left, left)
            return np.asarray(left, dtype=bool).view(_Mask)

    return DecisionTreeNode, LightGBMNode


def _build_tree(structure, features, leaf_class, split_class, counter):
    """Turn one ``dump_model()`` tree into linked WOODELF nodes (iterative, no recursion limit)."""
    root = None
    stack = [(structure, None, None)]
    while stack:
        node, parent, side = stack.pop()
        index = next(counter)
        if "split_index" in node:
            obj = split_class(
                feature_name=features[node["split_feature"]],
                value=0.0,
                right=None,
                left=None,
                nan_go_left=bool(node["default_left"]),
                index=index,
                cover=float(node["internal_count"]),
            )
            obj.missing = node.get("missing_type", "None")
            if node["decision_type"] == "==":
                cats = [int(c) for c in str(node["threshold"]).split("||")]
                obj.categories = np.asarray(cats, dtype=np.int64)
            else:
                obj.value = float(node["threshold"])
            stack.append((node["right_child"], obj, "right"))
            stack.append((node["left_child"], obj, "left"))
        else:
            obj = leaf_class(
                feature_name=None,
                value=float(node["leaf_value"]),
                right=None,
                left=None,
                index=index,
                cover=float(node.get("leaf_count", 0) or 0),
            )
        if parent is None:
            root = obj
        else:
            setattr(parent, side, obj)
            obj.parent = parent
    root.depth = root.get_depth()
    return root


def _expected_value(structure):
    """Cover-weighted mean leaf value of one tree (LightGBM's per-tree expected value)."""
    total, weighted = 0.0, 0.0
    stack = [structure]
    while stack:
        node = stack.pop()
        if "split_index" in node:
            stack.extend((node["left_child"], node["right_child"]))
        else:
            count = float(node.get("leaf_count", 0) or 0)
            total += count
            weighted += count * float(node["leaf_value"])
    if total == 0:  # a single-leaf tree carries no counts: its value is its expectation
        return float(structure.get("leaf_value", 0.0))
    return weighted / total


def load_ensemble(booster):
    """Parse a LightGBM booster into a WOODELF ensemble and its base value.

    Parameters
    ----------
    booster : lightgbm.Booster
        A binary (single-output) model.

    Returns
    -------
    ensemble : woodelf.core.trees.decision_trees_ensemble.DecisionTreesEnsemble
    base_value : float
        The sum of the trees' expected values, in log-odds.
    """
    import itertools

    from woodelf.core.trees.decision_trees_ensemble import DecisionTreesEnsemble

    dump = booster.dump_model()
    if dump.get("num_tree_per_iteration", 1) != 1:
        raise ValueError(
            "the woodelf backend explains single-output models only, but got "
            f"num_tree_per_iteration={dump['num_tree_per_iteration']}"
        )
    features = dump["feature_names"]
    leaf_class, split_class = _node_classes()
    split_class.columns = {}
    trees, base = [], 0.0
    for info in dump["tree_info"]:
        structure = info["tree_structure"]
        trees.append(_build_tree(structure, features, leaf_class, split_class, itertools.count()))
        base += _expected_value(structure)
    ensemble = DecisionTreesEnsemble(trees)
    ensemble.split_class = split_class
    return ensemble, base


_PARALLEL_MIN_ROWS = 20_000
#: WOODELF's own choice (``woodelf_sparse.use_sparse_approach``): ensembles deeper than this are
#: explained per distinct decision pattern of each leaf, shallower ones with full pattern tables
_SPARSE_MIN_DEPTH = 10
#: decision patterns of at most this many path features are made distinct with a lookup table
_TABLE_BITS = 16
#: every pattern of a path is computed when the rows number at least this many per pattern
_ALL_PATTERNS_ROWS = 8
_STATE: dict = {}


def _distinct(patterns: np.ndarray, width: int):
    """``(inverse, unique)`` of non-negative ``patterns`` below ``2**width``: what
    ``pandas.factorize`` returns, with the unique values ascending instead of in order of first
    appearance (each pattern's values are computed on their own, so the order changes nothing)."""
    if (1 << width) * _ALL_PATTERNS_ROWS <= len(patterns):
        # nearly every pattern occurs: compute them all and index by the pattern itself, which
        # spares two random-access passes over the rows (a pattern's values do not depend on
        # which other patterns are computed with it)
        return patterns, np.arange(1 << width, dtype=patterns.dtype)
    if width > _TABLE_BITS:
        import pandas as pd

        return pd.factorize(patterns, sort=True)
    index = patterns.astype(np.intp)  # converted once for the two passes below
    seen = np.zeros(1 << width, dtype=bool)
    seen[index] = True
    unique = np.flatnonzero(seen)
    slots = np.empty(1 << width, dtype=np.intp)  # only the slots of occurring patterns are read
    slots[unique] = np.arange(len(unique))
    return slots[index], unique.astype(patterns.dtype)


def _decision_patterns(tree, frame):
    """``(leaf, patterns)`` of every leaf: WOODELF's ``decision_patterns_generator`` (CPU, the
    neighbour-leaf trick on), the same nodes in the same order and the same pattern values, with
    a split's bits used as 0/1 bytes instead of converted to the pattern dtype twice a node."""
    from woodelf.core.decision_patterns import clean_old_patterns
    from woodelf.simple_woodelf import get_int_dtype_from_depth

    dtype = get_int_dtype_from_depth(min(tree.depth, len(frame.columns)))
    neighbour = tree.depth > 1
    patterns = {tree.index: np.zeros(len(frame), dtype=dtype)}
    paths = tree.get_nodes_to_path_dict()
    to_left, to_right = [tree], []
    while to_left or to_right:
        if to_left:
            node = to_left.pop()
        else:
            node = to_right.pop()
            clean_old_patterns(patterns, node.parent.left)
        if node.is_leaf():
            if node.index in patterns:  # an ignored right leaf has none
                yield node, patterns[node.index]
            continue
        _children_patterns(patterns, node, [n.feature_name for n in paths[node.index]], neighbour)
        to_left.append(node.left)
        to_right.append(node.right)


def _children_patterns(patterns, node, path_features, neighbour) -> None:
    """WOODELF's ``add_children_patterns`` for one split (see :func:`_decision_patterns`)."""
    left = node.shall_go_left(None).view(np.ndarray).view(np.uint8)  # 0 / 1, no copy
    mine = patterns[node.index]
    if node.feature_name not in path_features:  # a new bit: shift and add the condition
        shifted = mine << 1
        patterns[node.left.index] = shifted | left
        if not (neighbour and node.right.is_leaf() and node.left.is_leaf()):
            patterns[node.right.index] = shifted | (left ^ 1)
        return
    features = list(dict.fromkeys(path_features))  # a repeated feature: "and" into its bit
    bit = 2 ** (len(features) - 1 - features.index(node.feature_name))
    mask = (2 ** len(features) - 1) - bit
    left = left.astype(mine.dtype)
    patterns[node.left.index] = mine & (mask + left * bit)
    patterns[node.right.index] = mine & (mask + (left ^ 1) * bit)


def _sparse_tree(tree, frame, sums: np.ndarray, position: dict, p2s, gathered=None) -> None:
    """Add one tree's SHAP values of every row of ``frame`` to ``sums`` (features × rows, float32).

    WOODELF's ``sparse_path_dependent_single_tree``, step for step and in the same order (so the
    float32 sums are the same to the bit), with the distinct patterns of a leaf found by a lookup
    table instead of a hash table, and the values added into one preallocated matrix, each
    feature's values gathered by ``np.take`` into ``gathered`` (float32, one slot per row).
    """
    gathered = np.empty(sums.shape[1], dtype=np.float32) if gathered is None else gathered
    from woodelf.core.decision_patterns import ignore_right_neighbor
    from woodelf.core.utils import get_covers_vector, get_unique_features_in_path

    paths = tree.get_nodes_to_path_dict()
    for leaf, patterns in _decision_patterns(tree, frame):
        path = paths[leaf.index]
        features = get_unique_features_in_path(path)
        neighbour = leaf.parent.right.value if ignore_right_neighbor(leaf, path, True) else None
        covers = np.array(get_covers_vector(path + [leaf], features))
        inverse, unique = _distinct(patterns, len(features))
        s_matrix = p2s.get_path_dependent_s_matrix(features, unique, covers, leaf.value, neighbour)
        inverse = inverse.astype(np.intp, copy=False)  # converted once, not once a feature
        for feature, column in s_matrix.items():
            row = sums[position[feature]]
            column = np.ascontiguousarray(column)
            if column.dtype == gathered.dtype:
                np.add(row, np.take(column, inverse, out=gathered), out=row)
            else:
                row += column[inverse]


def _shap_values(group, frame) -> np.ndarray:
    """SHAP values of the rows of ``frame`` from the trees of ``group``, shape (n, p): the float32
    sums of the sparse path as summed (widened to float64 by the caller), else float64.

    Deep ensembles go through :func:`_sparse_tree`; shallow ones through WOODELF's own explainer
    (its full-table algorithm gathers by pattern directly, with nothing to make distinct).
    """
    from woodelf.core.cube_metric import ShapleyValues
    from woodelf.core.path_to_s_vectors.lts_recursive_p2s import LTSRecursivePathToSVectors

    depth = min(group.max_depth, len(frame.columns))
    if depth <= _SPARSE_MIN_DEPTH:
        from woodelf.explainer import WoodelfExplainer

        return np.asarray(WoodelfExplainer(group).shap_values(frame, verbose=False), np.float64)
    p2s = LTSRecursivePathToSVectors(metric=ShapleyValues(), max_depth=depth)
    position = {name: j for j, name in enumerate(frame.columns)}
    sums = np.zeros((len(position), len(frame)), dtype=np.float32)
    gathered = np.empty(len(frame), dtype=np.float32)
    for tree in group.trees:
        _sparse_tree(tree, frame, sums, position, p2s, gathered)
    return sums.T  # float32: half the bytes a worker sends back; widened by the caller


def _explain_group(index):
    """Worker: SHAP values of the rows in ``_STATE`` from the ``index``-th group of trees."""
    return _shap_values(_STATE["groups"][index], _STATE["frame"])


def woodelf_contributions(ensemble, frame, n_jobs=None):
    """SHAP values of every row of ``frame`` (float64 columns, booster order), shape (n, p).

    Contributions add up over trees, so with ``n_jobs > 1`` (default: one per CPU) and at least
    20,000 rows on Linux the trees are split into interleaved groups explained in forked worker processes
    and summed in float64. WOODELF's per-leaf work holds the GIL, so threads would not help.
    """
    return start_woodelf(ensemble, frame, n_jobs).result()


class RunningWoodelf:
    """Contributions being computed by forked workers (see :func:`start_woodelf`)."""

    def __init__(self, ensemble, frame, n_jobs):
        self._ensemble, self._frame, self._n_jobs = ensemble, frame, n_jobs
        self._pool = self._parts = None
        if n_jobs > 1:
            import multiprocessing

            self._share()
            try:  # the workers are forked here, each with its copy of the shared state
                self._pool = multiprocessing.get_context("fork").Pool(n_jobs, _own_tqdm_lock)
                self._parts = self._pool.map_async(_explain_group, range(n_jobs))
            finally:
                self._forget()

    def _share(self) -> None:
        from woodelf.core.trees.decision_trees_ensemble import DecisionTreesEnsemble

        ensemble, frame, n_jobs = self._ensemble, self._frame, self._n_jobs
        groups = [DecisionTreesEnsemble(ensemble.trees[i::n_jobs]) for i in range(n_jobs)]
        ensemble.split_class.columns = {
            c: _Column(frame[c].to_numpy(dtype=np.float64)) for c in frame.columns
        }
        _STATE.update(groups=groups, frame=frame)

    def _forget(self) -> None:
        self._ensemble.split_class.columns = {}
        _STATE.clear()

    def result(self) -> np.ndarray:
        """The (n, p) float64 SHAP values; waits for the workers."""
        if self._pool is None:
            self._share()
            try:
                return _explain_group(0).astype(np.float64)
            finally:
                self._forget()
        try:
            return sum(part.astype(np.float64) for part in self._parts.get())
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop the workers (nothing to stop after ``result()`` or with one process)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def _own_tqdm_lock() -> None:
    """In a forked worker: give tqdm (WOODELF draws its progress with it) a lock of this process.

    tqdm's default lock holds a semaphore shared with the parent process; a worker stopped by
    :meth:`RunningWoodelf.cancel` while it held that semaphore left the parent's next progress
    bar waiting forever (seen as a hung test). A fork may also copy the parent's lock while one
    of its threads holds it."""
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


def start_woodelf(ensemble, frame, n_jobs=None) -> RunningWoodelf:
    """Start explaining ``frame`` as :func:`woodelf_contributions` does; ``.result()`` returns
    its value. With worker processes, they run while the caller goes on (with one process the
    work is done in ``result()``)."""
    n_jobs = max(1, min(n_jobs or os.cpu_count() or 1, len(ensemble.trees)))
    if len(frame) < _PARALLEL_MIN_ROWS or not sys.platform.startswith("linux"):
        n_jobs = 1  # forking is safe on Linux; elsewhere (macOS frameworks) stay in-process
    return RunningWoodelf(ensemble, frame, n_jobs)

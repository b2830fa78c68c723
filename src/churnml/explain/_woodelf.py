"""WOODELF backend: exact path-dependent TreeSHAP for a LightGBM booster, vectorised over rows.

``woodelf-explainer`` reads LightGBM models through treelite, which rejects categorical splits. This
module builds WOODELF's tree objects straight from ``booster.dump_model()`` instead, with a node class
that routes rows exactly as LightGBM does (missing types ``None`` / ``Zero`` / ``NaN``, default
direction, categorical bitsets), so models with pandas categoricals are explained exactly too. Node
covers are LightGBM's own ``internal_count`` / ``leaf_count``, the weights its ``pred_contrib`` uses.
"""

from __future__ import annotations

import os
import sys
from typing import ClassVar

import numpy as np

_ZERO = 1e-35  # LightGBM's kZeroThreshold


class _Mask(np.ndarray):
    """A boolean array with the two pandas methods WOODELF calls on a split's result."""

    def to_numpy(self):
        return self.view(np.ndarray)


def _node_classes():
    from woodelf.core.trees.decision_trees_ensemble import DecisionTreeNode

    class LightGBMNode(DecisionTreeNode):
        """A split that goes left exactly when LightGBM's ``NumericalDecision`` would.

        ``columns`` (shared by the class) maps feature name -> float64 array of the rows being
        explained, so a split reads a column without building a pandas Series.
        """

        missing = "None"
        categories = None
        columns: ClassVar[dict] = {}

        def shall_go_left(self, row, GPU=False):
            x = self.columns[self.feature_name]
            nan = np.isnan(x)
            if self.categories is not None:
                # CategoricalDecision: NaN and negative codes go right; left iff the code is in the set.
                codes = np.where(nan, -1, x).astype(np.int64)
                left = np.isin(codes, self.categories)
            else:
                if self.missing == "NaN":
                    left = np.where(nan, self.nan_go_left, x <= self.value)
                else:
                    x = np.where(nan, 0.0, x)
                    left = x <= self.value
                    if self.missing == "Zero":
                        left = np.where(np.abs(x) <= _ZERO, self.nan_go_left, left)
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
_STATE: dict = {}


def _explain_group(index):
    """Worker: SHAP values of the rows in ``_STATE`` from the ``index``-th group of trees."""
    from woodelf.explainer import WoodelfExplainer

    values = WoodelfExplainer(_STATE["groups"][index]).shap_values(_STATE["frame"], verbose=False)
    return np.asarray(values, dtype=np.float64)


def woodelf_contributions(ensemble, frame, n_jobs=None):
    """SHAP values of every row of ``frame`` (float64 columns, booster order), shape (n, p).

    Contributions add up over trees, so with ``n_jobs > 1`` (default: one per CPU) and at least
    20,000 rows on Linux the trees are split into interleaved groups explained in forked worker processes
    and summed in float64. WOODELF's per-leaf work holds the GIL, so threads would not help.
    """
    import multiprocessing

    from woodelf.core.trees.decision_trees_ensemble import DecisionTreesEnsemble

    n_jobs = max(1, min(n_jobs or os.cpu_count() or 1, len(ensemble.trees)))
    if len(frame) < _PARALLEL_MIN_ROWS or not sys.platform.startswith("linux"):
        n_jobs = 1  # forking is safe on Linux; elsewhere (macOS frameworks) stay in-process
    groups = [DecisionTreesEnsemble(ensemble.trees[i::n_jobs]) for i in range(n_jobs)]
    ensemble.split_class.columns = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns}
    _STATE.update(groups=groups, frame=frame)
    try:
        if n_jobs == 1:
            return _explain_group(0)
        with multiprocessing.get_context("fork").Pool(n_jobs) as pool:
            return sum(pool.map(_explain_group, range(n_jobs)))
    finally:
        ensemble.split_class.columns = {}
        _STATE.clear()

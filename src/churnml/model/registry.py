"""Model registry: register a trained version, move the ``champion`` alias, load a model back.

``load_model(uri)`` accepts ``models:/churnml@champion``, ``models:/churnml/3``, ``runs:/<id>/model``,
``models:/<logged-model-id>`` or a local directory of a saved pyfunc, and returns the fitted
:class:`~churnml.model.estimator.ChurnModel` with ``catalog_``, ``config_``, ``model_name_`` and
``model_version_`` attached.
"""

from __future__ import annotations

import re
import threading

from churnml.errors import ChurnmlError
from churnml.model.tracking import quiet_mlflow

CHAMPION = "champion"
_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


def resolve(uri: str):
    """``(name, version)`` of a registry URI (alias resolved through ``MlflowClient``), or
    ``(None, None)`` for run, logged-model and local URIs."""
    quiet_mlflow()
    from mlflow import MlflowClient

    uri = str(uri)
    hit = _ALIAS.match(uri)
    if hit:
        version = MlflowClient().get_model_version_by_alias(hit["name"], hit["alias"])
        return hit["name"], str(version.version)
    hit = _VERSION.match(uri)
    if hit:
        return hit["name"], hit["version"]
    return None, None


def load_wrapper(uri: str):
    """The :class:`~churnml.model.pyfunc.ChurnPyfunc` behind ``uri``."""
    quiet_mlflow()
    import mlflow

    return mlflow.pyfunc.load_model(str(uri)).unwrap_python_model()


def load_model(uri: str):
    """Load a registered (or logged, or saved) churnml model as a fitted ``ChurnModel``.

    A registry URI is resolved to its version first (an alias at every call, so a moved alias
    loads the new version); a version loaded before comes from the local model cache
    (:mod:`churnml.model.cache`) without MLflow, any other is loaded through MLflow and cached.

    Parameters
    ----------
    uri : str
        ``models:/churnml@champion``, ``models:/churnml/<version>``, ``runs:/<run_id>/model``,
        ``models:/<model_id>`` or a local pyfunc directory.

    Returns
    -------
    ChurnModel
        With extra attributes ``catalog_`` (Catalog), ``config_`` (ModelConfig), ``model_name_``
        and ``model_version_`` (None when the URI is not a registry URI), ``training_info_``.

    Examples
    --------
    >>> model = load_model("models:/churnml@champion")  # doctest: +SKIP
    >>> model.predict_proba(features)[:, 1]  # doctest: +SKIP
    """
    return open_model(uri, background=False).model()


class OpenModel:
    """A model being loaded (:func:`open_model`): its catalog now, the model from :meth:`model`.

    ``load`` runs in a background thread when ``background``, else here and now.
    """

    def __init__(self, catalog, load, *, background: bool = False):
        self.catalog = catalog
        self._result = self._error = None
        self._thread = None
        if background:
            self._thread = threading.Thread(target=self._run, args=(load,), daemon=True,
                                            name="churnml-model-load")  # fmt: skip
            self._thread.start()
        else:
            self._run(load)

    def _run(self, load) -> None:
        try:
            self._result = load()
        except BaseException as error:  # noqa: BLE001 - raised again by model()
            self._error = error

    def model(self):
        """The loaded model (waits for the load; raises what the load raised)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


def open_model(uri: str, *, background: bool = True) -> OpenModel:
    """Start loading ``uri`` as :func:`load_model` does. A version in the local model cache is
    unpickled in a background thread (importing scikit-learn and LightGBM for it takes about a
    second) while its catalog is available at once, so scoring reads its data meanwhile; any
    other model is loaded before this returns."""
    from churnml.model import cache

    try:
        ref = cache.lookup(uri)
    except Exception as error:
        raise _unresolved(uri, error) from error
    cached = None if ref is None else cache.read(ref)
    if cached is not None:
        return OpenModel(cached["catalog"], lambda: _attach(
            cache.unpickle_model(cached), cached["catalog"], cached["config"], cached["info"],
            ref.name, ref.version), background=background)  # fmt: skip
    model = _load_uncached(uri, ref)
    return OpenModel(model.catalog_, lambda: model)


def _load_uncached(uri: str, ref):
    """Load through MLflow (and cache a registry version)."""
    from churnml.model import cache

    name, version = (None, None) if ref is None else (ref.name, ref.version)
    try:
        wrapper = load_wrapper(uri if ref is None else ref.uri)  # the version resolved above
    except OSError as error:  # a local folder or an artifact that is not a saved model
        raise ChurnmlError(f"cannot load model {uri!r}: {error}",
                           hint="give models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/model "
                                "or a folder written by mlflow.pyfunc.save_model") from error
    if ref is not None:
        cache.write(ref, wrapper)
    return _attach(wrapper.model, wrapper.catalog, wrapper.config, wrapper.info, name, version)


def _attach(model, catalog, config, info, name, version):
    """``model`` with the attributes :func:`load_model` promises."""
    model.catalog_ = catalog
    model.config_ = config
    model.model_name_ = name
    model.model_version_ = version
    model.training_info_ = dict(info or {})
    return model


def _unresolved(uri: str, error: Exception) -> ChurnmlError:
    """A one-line explanation of why ``uri`` names no model, with what exists instead."""
    import mlflow
    from mlflow import MlflowClient

    store = mlflow.get_tracking_uri()
    hit = _ALIAS.match(str(uri)) or _VERSION.match(str(uri))
    if hit is None:
        return ChurnmlError(f"cannot resolve model {uri!r}: {str(error).splitlines()[0]}")
    name = hit["name"]
    try:
        model = MlflowClient().get_registered_model(name)
    except Exception:  # noqa: BLE001 - no such model, or the store is unreachable
        return ChurnmlError(
            f"no registered model {name!r} in the MLflow store {store}",
            hint="train one with `churnml train`, or point MLFLOW_TRACKING_URI at the store "
                 "that holds it")
    aliases = ", ".join(f"{a} (version {v})" for a, v in sorted(model.aliases.items())) or "none"
    what = f"alias {hit['alias']!r}" if "alias" in hit.groupdict() else f"version {hit['version']}"
    hint = f"use one of them, or models:/{name}/VERSION"
    if hit.groupdict().get("alias") == CHAMPION:
        hint = (f"no version of {name!r} has passed the champion gate yet (see the Champion: line "
                f"of `churnml train`); score a version explicitly with models:/{name}/VERSION")
    return ChurnmlError(f"registered model {name!r} has no {what} (aliases: {aliases})", hint=hint)


def champion_version(name: str):
    """The ``ModelVersion`` holding alias ``champion`` of ``name``, or None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def register(model_uri: str, name: str, *, run_id=None, tags=None):
    """Register ``model_uri`` under ``name`` (created when new); returns the ``ModelVersion``."""
    quiet_mlflow()
    import contextlib
    import io

    import mlflow

    # MLflow prints "Successfully registered model" / "Created version" on stderr; the training
    # summary says which version was created
    with contextlib.redirect_stderr(io.StringIO()):
        version = mlflow.register_model(model_uri, name, tags=tags)
    return version


def promote(name: str, version) -> None:
    """Move alias ``champion`` of ``name`` to ``version``."""
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(name, CHAMPION, str(version))


#: what a model was trained on: training info key -> words of the comparison note
PROVENANCE = {
    "data_digest": "data (data_digest)",
    "mapping_digest": "mapping",
    "label_definition": "label definition",
}


def provenance_note(version, wrapper, info: dict) -> str:
    """`` (the champion was trained on other data ...)`` when the champion's data fingerprint,
    mapping or label definition differ from the challenger's ``info``; empty when they agree or
    are unknown. The champion's facts come from its training info, else its run's tags (the data
    digest) and its config (the label definition)."""
    from mlflow import MlflowClient

    from churnml.model.fingerprint import label_definition

    theirs = dict(getattr(wrapper, "info", None) or {})
    if "label_definition" not in theirs and getattr(wrapper, "config", None) is not None:
        theirs["label_definition"] = label_definition(wrapper.config)
    if "data_digest" not in theirs and getattr(version, "run_id", None):
        try:
            theirs["data_digest"] = MlflowClient().get_run(version.run_id).data.tags.get(
                "data_digest"
            )
        except Exception:  # noqa: BLE001, S110 - a deleted run leaves the digest unknown
            pass
    differ = [
        f"{words} {theirs[key]} vs {info[key]}"
        for key, words in PROVENANCE.items()
        if theirs.get(key) is not None
        and info.get(key) is not None
        and str(theirs[key]) != str(info[key])
    ]
    if not differ:
        return ""
    return f" (the champion was trained on different {'; '.join(differ)})"


def challenge(name: str, challenger, test, info: dict, *, exclude_version=None):
    """Champion/challenger on the same out-of-time test rows.

    The challenger is the run's held-out model (fitted before the test period). The champion is
    loaded from ``models:/<name>@champion`` and scored on the same ``test`` rows: its deployed model
    when that was trained only on outcomes known before the test starts, otherwise its own
    held-out model (so neither side has seen the test outcomes); when neither qualifies the
    deployed model is used and the reason says the comparison favours the champion.

    The challenger wins on a higher test ROC-AUC; an equal ROC-AUC (within 1e-9) is broken by
    PR-AUC. With no champion yet, or a champion that cannot score these features, it wins too.
    When the champion was trained on other data (data digest), another mapping or another label
    definition, the reason says so (:func:`provenance_note`). Whether the version is then
    promoted is decided by :func:`churnml.model.gate.decide`.

    Returns
    -------
    (promote, reason) : (bool, str)
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    current = champion_version(name)
    if current is None or (
        exclude_version is not None and str(current.version) == str(exclude_version)
    ):
        return True, "no champion yet"
    y = test["label"].astype(int).to_numpy()
    new_auc = float(roc_auc_score(y, challenger.predict_proba(test)[:, 1]))
    new_pr = float(average_precision_score(y, challenger.predict_proba(test)[:, 1]))
    try:
        wrapper = load_wrapper(f"models:/{name}@{CHAMPION}")
    except Exception as error:  # noqa: BLE001 - an unloadable champion is replaced
        return True, f"champion v{current.version} could not be loaded ({type(error).__name__})"
    test_start = info["test_start"]
    trained_until = (wrapper.info or {}).get("trained_until")
    holdout_until = (wrapper.info or {}).get("holdout_trained_until")
    note = ""
    if trained_until is not None and trained_until < test_start:
        model, which = wrapper.model, "deployed model"
    elif getattr(wrapper, "holdout", None) is not None and (
        holdout_until is not None and holdout_until < test_start
    ):
        model, which = wrapper.holdout, "held-out model"
    else:
        model, which = wrapper.model, "deployed model"
        note = " (the champion saw outcomes of the test period, so its score is optimistic)"
    try:
        p = model.predict_proba(test)[:, 1]
    except Exception as error:  # noqa: BLE001 - e.g. missing feature columns
        return True, (
            f"champion v{current.version} cannot score these features "
            f"({str(error).splitlines()[0][:160]}){provenance_note(current, wrapper, info)}"
        )
    old_auc = float(roc_auc_score(y, p))
    old_pr = float(average_precision_score(y, p))
    note += provenance_note(current, wrapper, info)
    figures = (
        f"test ROC-AUC {new_auc:.4f} vs champion v{current.version} ({which}) {old_auc:.4f}, "
        f"PR-AUC {new_pr:.4f} vs {old_pr:.4f} on {len(y)} test rows{note}"
    )
    if new_auc > old_auc + 1e-9:
        return True, f"beats the champion: {figures}"
    if abs(new_auc - old_auc) <= 1e-9 and new_pr > old_pr + 1e-9:
        return True, f"ties the champion on ROC-AUC and wins on PR-AUC: {figures}"
    return False, f"does not beat the champion: {figures}"

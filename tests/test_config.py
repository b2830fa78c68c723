"""Model config: defaults from models/default.yaml, overrides, eager validation with bad values."""

from __future__ import annotations

import dataclasses

import pytest

from churnml.model.config import DEFAULT_PATH, ModelConfig, load_config


def test_default_file_is_the_packaged_symlink_and_loads():
    config = load_config()
    assert DEFAULT_PATH.resolve().parent.name == "models"
    assert config.horizon_days == 180 and config.cadence == "monthly"
    assert config.tiers.red == "2x" and config.tiers.amber == "1.25x" and config.tiers.relative
    assert config.label == "auto" and load_config(label="window").label == "window"
    assert config.registered_model_name == "churnml"
    assert config.search_space.num_leaves == (4, 63)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.trials = 3


def test_overrides_merge_nested_sections_and_ignore_none():
    config = load_config(
        trials=7, timeout_seconds=None, tiers={"red": 0.7}, search_space={"num_leaves": [8, 16]}
    )
    assert config.trials == 7 and config.timeout_seconds == load_config().timeout_seconds
    assert config.tiers.red == 0.7 and config.tiers.amber == "1.25x"
    assert config.search_space.num_leaves == (8, 16)
    assert config.search_space.learning_rate == (0.01, 0.2)
    assert load_config(**config.to_dict()) == config


def test_tiers_are_probabilities_or_multiples_of_the_base_rate(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("tiers:\n  red: 0.5\n  amber: 0.25\n")  # configs from before stay valid
    tiers = load_config(old).tiers
    assert (tiers.red, tiers.amber, tiers.relative) == (0.5, 0.25, False)
    tiers = load_config(tiers={"red": "3 x", "amber": "1.5X"}).tiers
    assert (tiers.red, tiers.amber) == ("3x", "1.5x")
    assert load_config(**load_config(tiers={"red": "3x"}).to_dict()).tiers.red == "3x"


def test_scoring_overrides_are_the_scoring_keys_a_file_sets(tmp_path):
    from churnml.model.config import Tiers, scoring_overrides

    path = tmp_path / "scoring.yaml"
    path.write_text("trials: 3\ntiers:\n  red: 0.3\n  amber: 0.15\n")
    assert scoring_overrides(path) == {"tiers": Tiers(red=0.3, amber=0.15)}
    path.write_text("explanation_backend: native\n")
    assert scoring_overrides(path) == {"explanation_backend": "native"}
    path.write_text("tiers:\n  red: 2y\n")
    with pytest.raises(ValueError, match="tiers.red=.2y"):
        scoring_overrides(path)


def test_file_values_and_partial_file(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text("trials: 3\ncapacity: 20\ntraining_start: 2025-01-01\n")
    config = load_config(path)
    assert (config.trials, config.capacity, config.training_start) == (3, 20, "2025-01-01")
    assert config.n_folds == ModelConfig().n_folds


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tiers": {"red": 0.2, "amber": 0.3}}, "but got red=0.2"),
        ({"tiers": {"red": "1x", "amber": "2x"}}, "but got red=1x"),
        ({"tiers": {"red": "2 times"}}, "multiple of the base rate .* but got tiers.red='2 times'"),
        ({"tiers": {"red": "0x"}}, "tiers.red='0x'"),
        ({"tiers": {"amber": 1.5}}, "tiers.amber=1.5"),
        ({"cadence": "hourly"}, "cadence='hourly'"),
        ({"search_space": {"num_leaves": [10, 2]}}, r"num_leaves=\(10, 2\)"),
        ({"search_space": {"depth": [1, 2]}}, "unknown search_space key"),
        ({"trials": 0}, "trials=0"),
        ({"calibration": "platt"}, "calibration='platt'"),
        ({"downgrade_churn_share": 1.5}, "downgrade_churn_share=1.5"),
        ({"label": "rolling"}, "label must be one of .* but got label='rolling'"),
        ({"horizn_days": 90}, r"unknown top-level key\(s\) \['horizn_days'\]"),
    ],
)
def test_bad_values_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_config(**overrides)

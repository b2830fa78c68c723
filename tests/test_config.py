"""Model config: defaults from models/default.yaml, overrides, eager validation with bad values."""

from __future__ import annotations

import dataclasses

import pytest

from churnml.model.config import DEFAULT_PATH, ModelConfig, load_config


def test_default_file_is_the_packaged_symlink_and_loads():
    config = load_config()
    assert DEFAULT_PATH.resolve().parent.name == "models"
    assert config.horizon_days == 180 and config.cadence == "monthly"
    assert config.label == "auto" and load_config(label="window").label == "window"
    assert config.tiers.red == 0.5 and config.tiers.amber == 0.25
    assert config.registered_model_name == "churnml"
    assert config.search_space.num_leaves == (4, 63)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.trials = 3


def test_overrides_merge_nested_sections_and_ignore_none():
    config = load_config(
        trials=7, timeout_seconds=None, tiers={"red": 0.7}, search_space={"num_leaves": [8, 16]}
    )
    assert config.trials == 7 and config.timeout_seconds == load_config().timeout_seconds
    assert config.tiers.red == 0.7 and config.tiers.amber == 0.25
    assert config.search_space.num_leaves == (8, 16)
    assert config.search_space.learning_rate == (0.01, 0.2)
    assert load_config(**config.to_dict()) == config


def test_file_values_and_partial_file(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text("trials: 3\ncapacity: 20\ntraining_start: 2025-01-01\n")
    config = load_config(path)
    assert (config.trials, config.capacity, config.training_start) == (3, 20, "2025-01-01")
    assert config.n_folds == ModelConfig().n_folds


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tiers": {"red": 0.2}}, "but got red=0.2"),
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

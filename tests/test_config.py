"""Config schema: defaults, key-naming errors, presets."""
from pathlib import Path

import pytest
import yaml

from pipeline_lib.config import ConfigError, derive_seed, validate_config

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_filled_in():
    cfg = validate_config({})
    assert cfg["seed"] == 2026
    assert cfg["pixel2d"]["material"] == {"E": 1.0, "nu": 0.49, "plane": "stress", "void": 1e-9}
    assert cfg["pixel2d"]["seeds"]["simp"]["penal"] == 3.0


@pytest.mark.parametrize("preset", ["config.yaml", "presets/tiny.yaml", "presets/paper.yaml"])
def test_shipped_config_and_presets_are_valid(preset):
    validate_config(yaml.safe_load((ROOT / preset).read_text()))


@pytest.mark.parametrize("bad, key", [
    ({"pixel2d": {"seeds": {"count": 0}}}, "pixel2d.seeds.count"),
    ({"pixel2d": {"material": {"nu": 0.7}}}, "pixel2d.material.nu"),
    ({"pixel2d": {"material": {"plane": "3d"}}}, "pixel2d.material.plane"),
    ({"pixel2d": {"size": 49}}, "pixel2d.size"),
    ({"pixel2d": {"perturb": {"itterations": 3}}}, "pixel2d.perturb"),
    ({"pixel2d": {"perturb": {"levelset": {"amplitude": [4.0, 1.0]}}}}, "pixel2d.perturb.levelset.amplitude"),
    ({"seed": "abc"}, "seed"),
])
def test_a_bad_value_is_reported_with_its_key(bad, key):
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        validate_config(bad)


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(1, "a", 0) == derive_seed(1, "a", 0)
    assert len({derive_seed(1, "a", s) for s in range(100)} | {derive_seed(2, "a", 0)}) == 101
    assert derive_seed(5, "pixel2d", "seeds", 3) == 2245420004668288672  # fixed forever: data depend on it

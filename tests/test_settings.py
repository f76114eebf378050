"""mash_kg/settings.py: the settings dataclasses and the cache's home."""

from __future__ import annotations

from mash_kg.settings import CacheSettings, HierarchySettings, TreeSettings, default_cache


def test_the_hierarchy_defaults_place_the_curated_forest_as_the_tree_settings_do():
    assert HierarchySettings().tree() == TreeSettings()
    custom = HierarchySettings(root_radius=4.0, step=1.0, spread=0.5, shrink=0.3)
    assert custom.tree() == TreeSettings(4.0, 1.0, 0.5, 0.3)


def test_the_cache_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("MASH_KG_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache() == tmp_path / "xdg" / "mash-kg"
    monkeypatch.setenv("MASH_KG_CACHE", str(tmp_path / "mine"))
    assert CacheSettings().root == tmp_path / "mine"
    assert CacheSettings().text == tmp_path / "mine" / "text"
    assert CacheSettings(root=tmp_path / "x").text == tmp_path / "x" / "text"

"""The built-in forms are parsed once per version of the files (``dialogs.spec_cache``): the
cache gives the same forms, and a stale, corrupt or unwritable cache is ignored."""

from __future__ import annotations

import pickle

import pytest

from dialogs import spec as spec_module


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """No forms loaded yet in this process, and the cache in ``tmp_path``."""
    monkeypatch.setattr(spec_module, "_registry", None)
    monkeypatch.setenv("FORMBOT_CACHE_DIR", str(tmp_path))
    return tmp_path


def summary(forms) -> dict:
    return {f.id: (f.title, [i.code for i in f.items]) for f in forms.values()}


def test_the_cache_is_written_once_and_gives_the_same_forms(fresh, monkeypatch):
    parsed = spec_module.all_forms()
    (cached,) = fresh.glob("forms-*.pickle")
    monkeypatch.setattr(spec_module, "_registry", None)
    monkeypatch.setattr(spec_module, "load_spec", lambda path: pytest.fail("parsed again"))
    again = spec_module.all_forms()
    assert summary(again) == summary(parsed) and set(again) == {
        "so-ban-nganh",
        "ubnd-huyen",
        "xa-phuong",
    }
    assert spec_module.all_forms() is again  # the rest of the process uses them too
    assert list(fresh.glob("forms-*.pickle")) == [cached]


def test_a_changed_spec_file_is_parsed_again(fresh, monkeypatch, tmp_path):
    forms_dir = tmp_path / "forms"
    forms_dir.mkdir()
    for path in spec_module.FORMS_DIR.glob("*.yaml"):
        (forms_dir / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(spec_module, "FORMS_DIR", forms_dir)
    spec_module.all_forms()
    spec = forms_dir / "xa-phuong.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("PHIẾU TỰ", "PHIẾU MỚI", 1), "utf-8")
    monkeypatch.setattr(spec_module, "_registry", None)
    assert spec_module.all_forms()["xa-phuong"].title.startswith("PHIẾU MỚI")
    assert len(list(fresh.glob("forms-*.pickle"))) == 2


@pytest.mark.parametrize("content", [b"not a pickle", pickle.dumps({"key": "old", "value": {}})])
def test_a_corrupt_or_stale_cache_is_ignored_and_rebuilt(fresh, monkeypatch, content):
    spec_module.all_forms()
    (cached,) = fresh.glob("forms-*.pickle")
    key = pickle.loads(cached.read_bytes())["key"]
    cached.write_bytes(content)
    monkeypatch.setattr(spec_module, "_registry", None)
    forms = spec_module.all_forms()
    assert len(forms) == 3 and all(f.items for f in forms.values())
    assert pickle.loads(cached.read_bytes())["key"] == key


def test_without_a_usable_cache_directory_the_forms_still_load(fresh, monkeypatch):
    blocker = fresh / "file"
    blocker.write_text("a file where the directory should be")
    monkeypatch.setenv("FORMBOT_CACHE_DIR", str(blocker / "cache"))
    assert len(spec_module.all_forms()) == 3
    monkeypatch.setattr(spec_module, "_registry", None)
    monkeypatch.setenv("FORMBOT_CACHE_DIR", "off")
    assert len(spec_module.all_forms()) == 3

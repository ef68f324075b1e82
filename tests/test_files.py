"""The one atomic write: a failure at any point leaves the old version and no stray file."""

import errno
import json
import os
import stat

import pytest

from webapp import files


def test_a_failed_write_keeps_the_old_version_and_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "runs" / "run.json"
    files.atomic_write_json(target, {"answer": "1889 [1]", "城市": "巴黎"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"answer": "1889 [1]", "城市": "巴黎"}

    def full(src, dest):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError) as failed:
        files.atomic_write_json(target, {"answer": "half"})
    assert files.is_disk_full(failed.value)
    assert json.loads(target.read_text(encoding="utf-8"))["answer"] == "1889 [1]"
    assert sorted(p.name for p in target.parent.iterdir()) == ["run.json"]


def test_secrets_are_owner_only_and_copies_are_whole(tmp_path):
    secret = tmp_path / "users.json"
    files.atomic_write_json(secret, {"users": {}}, mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    source = tmp_path / "upload.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    copy = tmp_path / "originals" / "abc.bin"
    files.atomic_copy(source, copy)
    assert copy.read_bytes() == source.read_bytes()
    assert files.sha256_file(copy) == files.sha256_file(source)
    assert [p.name for p in copy.parent.iterdir()] == ["abc.bin"]


def test_unreadable_json_reads_as_the_default_and_empty_lists_are_removed(tmp_path):
    path = tmp_path / "records.json"
    path.write_text("{half a reco")
    assert files.read_json(path, []) == []
    assert files.read_json(tmp_path / "missing.json", {"a": 1}) == {"a": 1}
    files.write_or_remove(path, [{"id": "x"}])
    assert files.read_json(path, []) == [{"id": "x"}]
    files.write_or_remove(path, [])
    assert not path.exists()


def test_disk_full_is_found_anywhere_in_the_chain():
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError as inner:
            raise RuntimeError("could not store the chunks") from inner
    except RuntimeError as outer:
        assert files.is_disk_full(outer)
    assert files.is_disk_full(Exception("database or disk is full"))
    assert not files.is_disk_full(ValueError("bad value"))

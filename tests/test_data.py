"""MNIST: the bundled copy, its checks, the errors, and tensors equal to the transforms pipeline."""

import hashlib
import lzma
import os
import stat
import urllib.error
import tempfile
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import datasets

from conftest import permissions_apply
from helpers import data
from helpers._machinery import mnist_files
from helpers.data import DataError, ensure_mnist, normalize, practical_transform

FAKE = b"not really mnist, just bytes the test made\n" * 10
FAKE_FILES = {"fake-idx": (len(FAKE), hashlib.md5(FAKE).hexdigest())}


def make_bundle(folder: Path, content: bytes = FAKE, name: str = "fake-idx") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with lzma.open(folder / f"{name}.xz", "wb") as f:
        f.write(content)
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_bundle_holds_the_four_official_files_compressed():
    for name in mnist_files.MNIST_FILES:
        assert (mnist_files.BUNDLE_DIR / f"{name}.xz").is_file(), name
    total = sum((mnist_files.BUNDLE_DIR / f"{n}.xz").stat().st_size for n in mnist_files.MNIST_FILES)
    assert 5e6 < total < 15e6


def test_real_bundle_unpacks_verified_into_a_fresh_folder(tmp_path):
    root = ensure_mnist(tmp_path / "d")
    raw = root / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(mnist_files.MNIST_FILES)
    for name, (size, md5) in mnist_files.MNIST_FILES.items():
        assert (raw / name).stat().st_size == size
    train = datasets.MNIST(root, train=True)  # torchvision finds the files: downloads nothing
    assert train.data.shape == (60000, 28, 28) and len(datasets.MNIST(root, train=False)) == 10000


def test_data_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path / "elsewhere"))
    assert mnist_files.data_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("LAB_DATA_DIR")
    assert mnist_files.data_dir() == mnist_files.DEFAULT_DATA_DIR


def test_tensor_equals_the_transforms_pipeline_bit_for_bit():
    train, test = data.mnist_datasets()
    for dataset in (train, test):
        fast = normalize(dataset.data)
        idx = torch.arange(0, len(dataset), 7)  # every 7th image: thousands, from the whole range
        slow = torch.stack([dataset[i][0] for i in idx.tolist()]).reshape(len(idx), -1)
        assert torch.equal(fast[idx], slow)
        assert fast.dtype == torch.float32 and fast.min() == -1 and fast.max() == 1


def test_load_mnist_reads_what_torchvision_reads():
    """load_mnist parses the files itself (torchvision takes a second to import): every image and label agrees."""
    train, test = data.mnist_datasets()
    tensors = data.load_mnist()
    assert torch.equal(tensors.train_x, normalize(train.data)) and torch.equal(tensors.test_x, normalize(test.data))
    assert torch.equal(tensors.train_y, train.targets) and torch.equal(tensors.test_y, test.targets)
    assert tensors.train_y.dtype == train.targets.dtype == torch.int64


def test_dataloader_batches_equal_tensor_slices():
    train, _ = data.mnist_datasets()
    tensors = data.load_mnist()
    loader = DataLoader(train, batch_size=64, shuffle=False)
    for i, (images, labels) in zip(range(5), loader):
        assert torch.equal(images.reshape(len(images), -1), tensors.train_x[64 * i:64 * (i + 1)])
        assert torch.equal(labels, tensors.train_y[64 * i:64 * (i + 1)])
    assert len(loader) == 938  # the practical's iterations per epoch


def test_practical_transform_is_totensor_then_normalize():
    t = practical_transform()
    assert [type(s).__name__ for s in t.transforms] == ["ToTensor", "Normalize"]
    assert t.transforms[1].mean == (0.5,) and t.transforms[1].std == (0.5,)


def test_bundled_file_is_unpacked_atomically(tmp_path):
    root = ensure_mnist(tmp_path / "root", bundle_dir=make_bundle(tmp_path / "b"), files=FAKE_FILES)
    assert (root / "MNIST" / "raw" / "fake-idx").read_bytes() == FAKE
    assert leftovers(root) == ["fake-idx"]


def test_truncated_file_on_disk_is_named_with_what_to_do(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "fake-idx").write_bytes(FAKE[:100])
    with pytest.raises(DataError, match=r"fake-idx is damaged: it has 100 bytes instead of \d+.*Delete it"):
        ensure_mnist(tmp_path, bundle_dir=tmp_path / "none", files=FAKE_FILES)


def test_wrong_checksum_on_disk_is_reported(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "fake-idx").write_bytes(FAKE.upper())  # right size, wrong bytes
    with pytest.raises(DataError, match="md5 .* instead of .*corrupt"):
        ensure_mnist(tmp_path, bundle_dir=tmp_path / "none", files=FAKE_FILES)


def test_truncated_bundle_leaves_nothing_behind(tmp_path):
    bundle = make_bundle(tmp_path / "b")
    xz = bundle / "fake-idx.xz"
    xz.write_bytes(xz.read_bytes()[:-20])
    with pytest.raises(DataError, match="fake-idx.xz is truncated or not an .xz file.*git checkout"):
        ensure_mnist(tmp_path / "root", bundle_dir=bundle, files=FAKE_FILES)
    assert leftovers(tmp_path / "root") == []


def test_bundle_with_wrong_content_leaves_nothing_behind(tmp_path):
    bundle = make_bundle(tmp_path / "b", content=FAKE[:-1] + b"!")
    with pytest.raises(DataError, match="fake-idx.xz is corrupt: it unpacks to .* md5"):
        ensure_mnist(tmp_path / "root", bundle_dir=bundle, files=FAKE_FILES)
    assert leftovers(tmp_path / "root") == []


def test_no_data_and_no_network_says_what_to_do(tmp_path, monkeypatch):
    def offline_download(self):
        raw = Path(self.raw_folder)
        raw.mkdir(parents=True, exist_ok=True)
        (raw / "train-images-idx3-ubyte.gz").write_bytes(b"half a download")  # what a failed fetch leaves
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: <urlopen error [Errno -2] "
                           "Name or service not known>")

    monkeypatch.setattr(datasets.MNIST, "download", offline_download)
    with pytest.raises(DataError, match=r"not in .*downloading it failed .*offline.*LAB_DATA_DIR"):
        ensure_mnist(tmp_path, bundle_dir=tmp_path / "no-bundle", files=FAKE_FILES)
    assert leftovers(tmp_path) == []


def test_download_error_of_another_kind_is_also_clear(tmp_path, monkeypatch):
    def refuse(self):
        raise urllib.error.URLError("timed out")

    monkeypatch.setattr(datasets.MNIST, "download", refuse)
    with pytest.raises(DataError, match="downloading it failed"):
        ensure_mnist(tmp_path, bundle_dir=tmp_path / "no-bundle", files=FAKE_FILES)


def test_read_only_data_dir_says_set_the_variable(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(DataError, match="Cannot write MNIST into .*Permission denied.*LAB_DATA_DIR"):
        ensure_mnist(tmp_path / "root", bundle_dir=make_bundle(tmp_path / "b"), files=FAKE_FILES)


def test_data_dir_under_a_file_is_reported(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        ensure_mnist(tmp_path / "a-file", bundle_dir=make_bundle(tmp_path / "b"), files=FAKE_FILES)
    with pytest.raises(DataError, match="Cannot write MNIST"):
        ensure_mnist(tmp_path / "a-file" / "below", bundle_dir=make_bundle(tmp_path / "b"), files=FAKE_FILES)


def test_present_files_in_a_read_only_folder_need_no_writing(tmp_path, monkeypatch):
    root = ensure_mnist(tmp_path / "root", bundle_dir=make_bundle(tmp_path / "b"), files=FAKE_FILES)
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(PermissionError()))
    assert ensure_mnist(root, bundle_dir=tmp_path / "b", files=FAKE_FILES) == root


def test_unpacked_files_have_ordinary_read_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        root = ensure_mnist(tmp_path / "root", bundle_dir=make_bundle(tmp_path / "b"), files=FAKE_FILES)
    finally:
        os.umask(old)
    mode = stat.S_IMODE((root / "MNIST" / "raw" / "fake-idx").stat().st_mode)
    assert mode == 0o644, oct(mode)  # readable by the other users of a shared data folder


def test_an_existing_file_that_cannot_be_read_is_a_clear_data_error(tmp_path, monkeypatch):
    root = ensure_mnist(tmp_path / "root", bundle_dir=make_bundle(tmp_path / "b"), files=FAKE_FILES)
    mnist_files._VERIFIED.clear()

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(mnist_files, "_md5", refuse)
    with pytest.raises(DataError, match=r"Cannot read MNIST file .*fake-idx \(Permission denied\).*chmod a\+r"
                                        r".*LAB_DATA_DIR"):
        ensure_mnist(root, bundle_dir=tmp_path / "b", files=FAKE_FILES)


@pytest.mark.skipif(not permissions_apply(), reason="file permissions do not apply to this user (root)")
def test_a_file_another_user_unpacked_privately_is_a_clear_data_error(tmp_path):
    root = ensure_mnist(tmp_path / "root", bundle_dir=make_bundle(tmp_path / "b"), files=FAKE_FILES)
    mnist_files._VERIFIED.clear()
    private = root / "MNIST" / "raw" / "fake-idx"
    private.chmod(0o200)  # as mkstemp left it for its owner: here, nobody may read it
    try:
        with pytest.raises(DataError, match="Cannot read MNIST file"):
            ensure_mnist(root, bundle_dir=tmp_path / "b", files=FAKE_FILES)
    finally:
        private.chmod(0o644)


def test_download_error_names_the_missing_files_not_the_present_ones(tmp_path, monkeypatch):
    def offline_download(self):
        raise RuntimeError("Error downloading fake-idx.gz: <urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(datasets.MNIST, "download", offline_download)
    files = {**FAKE_FILES, "other-idx": (10, "0" * 32)}  # fake-idx is bundled; other-idx is in no bundle
    with pytest.raises(DataError) as info:
        ensure_mnist(tmp_path / "root", bundle_dir=make_bundle(tmp_path / "b"), files=files)
    message = str(info.value)
    assert "missing: other-idx" in message and "downloading it failed" in message
    assert "missing: fake-idx" not in message and "LAB_DATA_DIR" in message

"""Device names are checked up front with one-line errors (no GPU needed: availability is faked)."""

from __future__ import annotations

import pytest
import torch

from edpbrl.device import DeviceError, check_device


@pytest.fixture
def one_gpu(monkeypatch):
    """A torch built with CUDA that sees exactly one GPU."""
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.fixture
def cpu_torch(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)


def test_cpu_is_always_fine():
    assert check_device("cpu") == "cpu" and check_device(None) == "cpu"
    assert check_device(torch.device("cpu")) == "cpu"


def test_unknown_and_unsupported_types():
    with pytest.raises(DeviceError, match=r"^unknown device 'tpu': expected cpu, cuda, cuda:N or mps$"):
        check_device("tpu")
    with pytest.raises(DeviceError, match=r"^device 'meta' is not supported: expected cpu, cuda"):
        check_device("meta")
    with pytest.raises(DeviceError, match="device must be a string"):
        check_device(3)


def test_cuda_on_a_torch_without_cuda(cpu_torch):
    msg = (
        f"device 'cuda' is not available: this torch ({torch.__version__}) was built without CUDA; "
        "use --device cpu or install a CUDA build of torch"
    )
    with pytest.raises(DeviceError) as e:
        check_device("cuda")
    assert str(e.value) == msg


def test_cuda_without_a_visible_gpu(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=r"^device 'cuda' is not available: no CUDA GPU is visible"):
        check_device("cuda")


def test_cuda_index_beyond_the_visible_gpus(one_gpu):
    assert check_device("cuda") == "cuda" and check_device("cuda:0") == "cuda:0"
    with pytest.raises(DeviceError) as e:
        check_device("cuda:1")
    assert str(e.value) == "device 'cuda:1' does not exist: 1 CUDA GPU(s) visible (cuda:0)"


def test_every_entry_point_checks_first(cpu_torch, tiny_vocab):
    """Personalizer, load_embedder, solve_design and the benchmark refuse before any work."""
    from edpbrl import Personalizer
    from edpbrl.design.solvers import solve_design
    from edpbrl.embed import load_embedder
    from edpbrl.experiments.bench_design import run
    from edpbrl.mdp import PromptMDP

    with pytest.raises(DeviceError, match="'cuda' is not available"):
        Personalizer.default(device="cuda", embedder="hashing", vocabulary=tiny_vocab)
    with pytest.raises(DeviceError, match="'cuda' is not available"):
        Personalizer(tiny_vocab, load_embedder("hashing:16"), device="cuda")
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        load_embedder("hashing:16", device="tpu")
    mdp = PromptMDP.from_embedder(tiny_vocab, load_embedder("hashing:16"))
    with pytest.raises(DeviceError, match="'cuda:1' is not available"):
        solve_design(mdp, episodes=5, lam=1.0, device="cuda:1")
    with pytest.raises(DeviceError, match="'cuda' is not available"):
        run(slots=2, words=10, dim=4, device="cuda")

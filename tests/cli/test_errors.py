"""Every bad input of issue 11 gives one line naming the problem and exit status 2, before any long
computation. Each test asserts the exact line that a person sees."""

from __future__ import annotations

import json
import socket
import sys

import numpy as np
import pytest
import torch

from edpbrl.cli import main
from edpbrl.personalizer import MAX_EPISODES


def run(argv, capsys) -> tuple[int, str, str]:
    """(exit status, stderr, stdout) of ``edpbrl argv``, whether main returns or argparse exits."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    cap = capsys.readouterr()
    return code, cap.err.strip(), cap.out


def usage_error(prog: str, message: str) -> str:
    return f"{prog}: error: {message} (see: {prog} --help)"


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if a command starts computing (embedding the vocabulary or simulating)."""
    import edpbrl.experiments.curves  # noqa: F401  (bound `simulate` at import: import them unpatched)
    import edpbrl.experiments.sweep  # noqa: F401
    from edpbrl.experiments import simulate
    from edpbrl.mdp import PromptMDP

    def boom(*a, **k):
        raise AssertionError("the command computed before checking its arguments")

    monkeypatch.setattr(PromptMDP, "from_embedder", boom)
    monkeypatch.setattr(simulate, "simulate", boom)
    monkeypatch.setattr(simulate, "setup_world", boom)


# -- devices -----------------------------------------------------------------------------------
NO_CUDA = (
    "edpbrl: error: device '{}' is not available: this torch ({}) was built without CUDA; "
    "use --device cpu or install a CUDA build of torch"
)


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_design_device_without_cuda(device, no_cuda, no_compute, capsys):
    code, err, _ = run(["design", "--embedder", "hashing:16", "--device", device], capsys)
    assert (code, err) == (2, NO_CUDA.format(device, torch.__version__))


def test_design_device_index_beyond_the_gpus(one_gpu, no_compute, capsys):
    code, err, _ = run(["design", "--embedder", "hashing:16", "--device", "cuda:1"], capsys)
    assert (code, err) == (2, "edpbrl: error: device 'cuda:1' does not exist: 1 CUDA GPU(s) visible (cuda:0)")


def test_design_device_tpu(no_compute, capsys):
    code, err, _ = run(["design", "--embedder", "hashing:16", "--device", "tpu"], capsys)
    assert (code, err) == (2, "edpbrl: error: unknown device 'tpu': expected cpu, cuda, cuda:N or mps")


def test_bench_design_device(no_cuda, capsys):
    code, err, _ = run(
        ["bench", "design", "--slots", "2", "--words", "10", "--dim", "4", "--device", "cuda"], capsys
    )
    assert (code, err) == (2, NO_CUDA.format("cuda", torch.__version__))


# -- serve -------------------------------------------------------------------------------------
def test_serve_without_the_app_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now fails
    code, err, _ = run(["serve", "--db", str(tmp_path / "a.db")], capsys)
    assert (code, err) == (
        2,
        "edpbrl: error: edpbrl serve needs the 'app' extra (uvicorn is missing): pip install 'edpbrl[app]'",
    )


@pytest.mark.parametrize("port", ["-1", "0", "99999"])
def test_serve_port_out_of_range(port, capsys):
    code, err, _ = run(["serve", "--port", port], capsys)
    assert (code, err) == (
        2,
        usage_error("edpbrl serve", f"argument --port: must be in 1..65535, got {port}"),
    )


def test_serve_unknown_method(capsys):
    code, err, _ = run(["serve", "--method", "nope"], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(
        "edpbrl serve: error: argument --method: unknown method 'nope': expected one of random,"
    )


def test_serve_port_in_use(tmp_path, capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        code, err, out = run(["serve", "--port", str(port), "--db", str(tmp_path / "a.db")], capsys)
    finally:
        busy.close()
    assert (code, err) == (2, f"edpbrl: error: port {port} is in use; choose another with --port")
    assert "open http" not in out  # no URL printed for a server that never started


# -- --out -------------------------------------------------------------------------------------
def _design(tiny_vocab_dir, *extra):
    return ["design", "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16", "--episodes", "5", *extra]


def _simulate(tiny_vocab_dir, *extra):
    return [
        "simulate", "--style", "sunny", "--method", "random", "--episodes", "2", "--seeds", "1", "--k", "3",
        "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16", "--no-progress", *extra,
    ]  # fmt: skip


def _curves(tiny_vocab_dir, *extra):
    return [
        "experiment", "curves", "--style", "sunny", "--method", "random", "--episodes", "2", "--seeds", "1",
        "--k", "3", "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16", "--no-progress", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("command", [_design, _simulate])
def test_out_into_a_missing_directory(command, tiny_vocab_dir, tmp_path, no_compute, capsys):
    out = tmp_path / "nodir" / "x.json"
    code, err, _ = run(command(tiny_vocab_dir, "--out", str(out)), capsys)
    assert (code, err) == (
        2,
        f"edpbrl: error: --out {out}: directory {out.parent} does not exist (create it first)",
    )


@pytest.mark.parametrize("command", [_design, _simulate])
def test_out_onto_a_directory(command, tiny_vocab_dir, tmp_path, no_compute, capsys):
    code, err, _ = run(command(tiny_vocab_dir, "--out", str(tmp_path)), capsys)
    assert (code, err) == (2, f"edpbrl: error: --out {tmp_path} is a directory; give a file name")


@pytest.mark.parametrize("command", [_design, _simulate])
def test_out_onto_an_existing_file(command, tiny_vocab_dir, tmp_path, no_compute, capsys):
    out = tmp_path / "x.json"
    out.write_text("keep me")
    code, err, _ = run(command(tiny_vocab_dir, "--out", str(out)), capsys)
    assert (code, err) == (2, f"edpbrl: error: --out {out} exists; add --force to overwrite it")
    assert out.read_text() == "keep me"


def test_design_out_companion_file_is_checked_too(tiny_vocab_dir, tmp_path, no_compute, capsys):
    (tmp_path / "d.pt").write_bytes(b"old")
    code, err, _ = run(_design(tiny_vocab_dir, "--out", str(tmp_path / "d.json")), capsys)
    assert (code, err) == (2, f"edpbrl: error: --out {tmp_path / 'd.pt'} exists; add --force to overwrite it")
    code, err, _ = run(_design(tiny_vocab_dir, "--out", str(tmp_path / "d.pt")), capsys)
    assert err == (
        f"edpbrl: error: --out {tmp_path / 'd.pt'}: this command also writes a .pt file beside it; "
        "give a name with another suffix (e.g. d.json)"
    )


def test_out_stdout_refused_where_it_makes_no_sense(tiny_vocab_dir, no_compute, capsys):
    code, err, _ = run(_design(tiny_vocab_dir, "--out", "-"), capsys)
    assert (code, err) == (2, "edpbrl: error: --out -: the design is a JSON file plus a .pt file; use --json")
    code, err, _ = run(_simulate(tiny_vocab_dir, "--out", "-"), capsys)
    assert (code, err) == (2, "edpbrl: error: --out -: use --json to print the results")


def test_out_with_force_overwrites(tiny_vocab_dir, tmp_path, capsys):
    out = tmp_path / "sim.json"
    out.write_text("old")
    code, _, _ = run(_simulate(tiny_vocab_dir, "--out", str(out), "--force", "--json"), capsys)
    assert code == 0 and "results" in json.loads(out.read_text())
    code, _, _ = run(_design(tiny_vocab_dir, "--out", str(tmp_path / "d.json")), capsys)
    assert code == 0 and (tmp_path / "d.json").is_file() and (tmp_path / "d.pt").is_file()


def test_curves_out(tiny_vocab_dir, tmp_path, no_compute, capsys):
    code, err, _ = run(_curves(tiny_vocab_dir, "--out", str(tmp_path / "a" / "b")), capsys)
    missing = f"--out {tmp_path / 'a' / 'b'}: directory {tmp_path / 'a'} does not exist (create it first)"
    assert (code, err) == (2, f"edpbrl: error: {missing}")
    (tmp_path / "f").write_text("")
    code, err, _ = run(_curves(tiny_vocab_dir, "--out", str(tmp_path / "f")), capsys)
    assert (code, err) == (
        2,
        f"edpbrl: error: --out {tmp_path / 'f'} is a file; give a directory for the outputs",
    )
    code, err, _ = run(_curves(tiny_vocab_dir, "--out", str(tmp_path)), capsys)
    assert (
        err
        == f"edpbrl: error: --out {tmp_path} is a directory that is not empty; add --force to write into it"
    )


# -- numbers out of range ------------------------------------------------------------------------
SIM = "--style sunny --method random --episodes 2"
RANGE_CASES = [  # (command, its arguments, the message after "argument ")
    ("design", "--tol 0", "--tol: must be a number > 0, got 0"),
    ("design", "--tol -1e-3", "--tol: must be a number > 0, got -1e-3"),
    ("design", "--tol nan", "--tol: must be a number > 0, got nan"),
    ("design", "--max-iter 0", "--max-iter: must be ≥ 1, got 0"),
    ("demo", "--episodes 100000", f"--episodes: must be in 1..{MAX_EPISODES}, got 100000"),
    ("demo", "--episodes 0", f"--episodes: must be in 1..{MAX_EPISODES}, got 0"),
    ("personalize", "--beam 0", "--beam: must be ≥ 1, got 0"),
    ("personalize", "--beam -1", "--beam: must be ≥ 1, got -1"),
    ("personalize", "--n 0", "--n: must be ≥ 1, got 0"),
    ("personalize", "--n -2", "--n: must be ≥ 1, got -2"),
    ("simulate", f"{SIM} --seeds 0", "--seeds: must be ≥ 1, got 0"),
    ("simulate", f"{SIM} --seeds -1", "--seeds: must be ≥ 1, got -1"),
    ("simulate", f"{SIM} --episodes 0", "--episodes: must be ≥ 1, got 0"),
    ("bench design", "--dim 0", "--dim: must be ≥ 1, got 0"),
    ("bench design", "--words -1", "--words: must be ≥ 2, got -1"),
    ("bench design", "--slots x", "--slots: expected a positive integer, got 'x'"),
    ("experiment table", "r.json --reference 0", "--reference: must be ≥ 1, got 0"),
]


@pytest.mark.parametrize("command, args, message", RANGE_CASES)
def test_numbers_out_of_range(command, args, message, capsys):
    code, err, _ = run([*command.split(), *args.split()], capsys)
    assert (code, err) == (2, usage_error(f"edpbrl {command}", f"argument {message}"))


def test_library_checks_behind_the_options(tiny_vocab):
    """The same limits hold for library callers."""
    from edpbrl.design.solvers import solve_design
    from edpbrl.embed import load_embedder
    from edpbrl.errors import EdpbrlError
    from edpbrl.experiments.bench_design import run as bench
    from edpbrl.experiments.simulate import simulate
    from edpbrl.mdp import PromptMDP

    mdp = PromptMDP.from_embedder(tiny_vocab, load_embedder("hashing:16"))
    for tol in (0, -1e-3, float("nan")):
        with pytest.raises(EdpbrlError, match=r"^tol must be a number > 0"):
            solve_design(mdp, episodes=5, lam=1.0, tol=tol)
    with pytest.raises(EdpbrlError, match=r"^max_iter must be a positive integer, got 0$"):
        solve_design(mdp, episodes=5, lam=1.0, max_iter=0)
    with pytest.raises(EdpbrlError, match=r"^dim must be an integer ≥ 1, got 0$"):
        bench(slots=2, words=10, dim=0)
    with pytest.raises(EdpbrlError, match=r"^words must be an integer ≥ 2, got -1$"):
        bench(slots=2, words=-1, dim=4)
    for seeds in (0, -1):
        with pytest.raises(EdpbrlError, match=rf"^seeds must be a positive integer, got {seeds}$"):
            simulate(["sunny"], ["random"], [2], seeds)


# -- progress bars ---------------------------------------------------------------------------------
def test_design_progress_has_no_eta_and_is_closed_before_an_error(tiny_vocab_dir, monkeypatch, capsys):
    from edpbrl.design import solvers
    from edpbrl.errors import DesignError

    def failing(domain, *, progress=None, max_iter=5000, **kw):
        progress(3, max_iter, "gap 1.0e-05")
        raise DesignError("something went wrong")

    monkeypatch.setattr(solvers, "solve_design", failing)
    code, err, _ = run([*_design(tiny_vocab_dir), "--design", "mixture"], capsys)
    assert code == 2
    before, sep, after = err.rpartition("edpbrl: error: ")
    assert sep and after == "something went wrong"
    assert before.endswith("\r")  # the bar cleared its line (closed) before the error was printed
    assert "gap 1.0e-05" in before and "3it" in before  # iterations and the gap ...
    assert "/5000" not in before and "<" not in before  # ... but no total and no ETA


# -- personalize --theta ---------------------------------------------------------------------------
def _personalize(tiny_vocab_dir, theta_path, *extra):
    return [
        "personalize", "--theta", str(theta_path), "--vocab", str(tiny_vocab_dir), "--embedder", "hashing:16",
        "--n", "2", *extra,
    ]  # fmt: skip


def test_personalize_reads_the_theta_json_of_export(tiny_vocab_dir, tmp_path, capsys):
    theta = np.random.default_rng(0).normal(size=16)
    (tmp_path / "t.json").write_text(json.dumps({"format": "edpbrl-theta/1", "theta": theta.tolist()}))
    np.save(tmp_path / "t.npy", theta)
    code, _, out_json = run(_personalize(tiny_vocab_dir, tmp_path / "t.json", "--json"), capsys)
    assert code == 0
    code, _, out_npy = run(_personalize(tiny_vocab_dir, tmp_path / "t.npy", "--json"), capsys)
    assert code == 0 and json.loads(out_json) == json.loads(out_npy)
    assert len(json.loads(out_json)["prompts"]) == 2


def test_personalize_nan_theta(tiny_vocab_dir, tmp_path, capsys):
    np.save(tmp_path / "t.npy", np.r_[np.nan, np.ones(15)])
    code, err, out = run(_personalize(tiny_vocab_dir, tmp_path / "t.npy"), capsys)
    assert (code, err, out) == (
        2,
        f"edpbrl: error: θ from {tmp_path / 't.npy'} has 1 NaN or infinite entries",
        "",
    )


def test_personalize_non_numeric_npy(tiny_vocab_dir, tmp_path, capsys):
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    code, err, _ = run(_personalize(tiny_vocab_dir, tmp_path / "s.npy"), capsys)
    assert (code, err) == (2, f"edpbrl: error: θ file {tmp_path / 's.npy'} holds <U1 values, not numbers")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, err, _ = run(_personalize(tiny_vocab_dir, tmp_path / "o.npy"), capsys)
    assert (code, err) == (2, f"edpbrl: error: θ file {tmp_path / 'o.npy'} holds Python objects, not numbers")


def test_personalize_bad_theta_files(tiny_vocab_dir, tmp_path, capsys):
    (tmp_path / "x.json").write_text('{"theta": ["a"]}')
    code, err, _ = run(_personalize(tiny_vocab_dir, tmp_path / "x.json"), capsys)
    assert (code, err) == (2, f"edpbrl: error: θ file {tmp_path / 'x.json'} has no numeric 'theta' list")
    (tmp_path / "x.txt").write_bytes(b"\xff\xfe")
    code, err, _ = run(_personalize(tiny_vocab_dir, tmp_path / "x.txt"), capsys)
    assert err == (
        f"edpbrl: error: θ file {tmp_path / 'x.txt'} is neither .npy nor JSON "
        "(give a file from `edpbrl export --format theta|npy`)"
    )
    code, err, _ = run(_personalize(tiny_vocab_dir, tmp_path / "missing.npy"), capsys)
    assert (code, err) == (2, f"edpbrl: error: θ file not found: {tmp_path / 'missing.npy'}")
    np.save(tmp_path / "d8.npy", np.ones(8))
    code, err, _ = run(_personalize(tiny_vocab_dir, tmp_path / "d8.npy"), capsys)
    assert err == (
        "edpbrl: error: θ has dimension 8 but the hashing-16-s0 encoder gives 16; "
        "pass the --embedder it was learned with"
    )

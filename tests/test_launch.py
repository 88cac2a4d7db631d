"""Worker placement, computed without a GPU: which device each worker gets, and its env."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner

from optsearch._launch import GpuInfo, detect_gpus, parse_gpus, plan_workers
from optsearch.cli import cli
from optsearch.errors import UsageError

H200S = [GpuInfo(0, "NVIDIA H200", 143771), GpuInfo(1, "NVIDIA H200", 143771), GpuInfo(3, "NVIDIA H200", 143771)]


def test_one_worker_per_gpu_sees_only_its_gpu_and_grows_memory() -> None:
    plans = plan_workers(H200S)
    assert [p.env["CUDA_VISIBLE_DEVICES"] for p in plans] == ["0", "1", "3"]
    assert all("OPTSEARCH_GPU_MEMORY_MB" not in p.env for p in plans)  # memory growth instead
    assert [p.device for p in plans] == ["GPU 0", "GPU 1", "GPU 3"]


def test_packed_workers_get_a_share_of_the_memory_each() -> None:
    plans = plan_workers(H200S[:1], workers_per_gpu=4)
    assert len(plans) == 4
    assert {p.env["CUDA_VISIBLE_DEVICES"] for p in plans} == {"0"}
    caps = {int(p.env["OPTSEARCH_GPU_MEMORY_MB"]) for p in plans}
    assert caps == {int(143771 * 0.9 / 4)}
    assert len({p.label for p in plans}) == 4


def test_cpu_workers_hide_gpus_and_share_the_cores() -> None:
    plans = plan_workers(workers=4, cpu_count=16)
    assert len(plans) == 4
    assert all(p.env["CUDA_VISIBLE_DEVICES"] == "" for p in plans)
    assert all(p.env["OPTSEARCH_CPU_THREADS"] == "4" for p in plans)
    assert plan_workers(workers=4, cpu_count=2)[0].env["OPTSEARCH_CPU_THREADS"] == "1"


def test_gpu_selection() -> None:
    assert parse_gpus("all", H200S) == H200S
    assert [g.index for g in parse_gpus("3,0", H200S)] == [3, 0]
    with pytest.raises(UsageError, match="'2' is not a visible GPU. Visible GPUs: 0, 1, 3"):
        parse_gpus("0,2", H200S)
    with pytest.raises(UsageError, match="none is visible.*--workers N"):
        parse_gpus("all", [])


def test_detect_gpus_reads_nvidia_smi_and_respects_cuda_visible_devices(monkeypatch) -> None:
    output = "0, NVIDIA H200, 143771\n1, NVIDIA H200, 143771\n"

    def fake_run(*args, **kwargs):
        return subprocess.CompletedProcess(args, 0, stdout=output, stderr="")

    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert detect_gpus(fake_run) == [GpuInfo(0, "NVIDIA H200", 143771), GpuInfo(1, "NVIDIA H200", 143771)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert [g.index for g in detect_gpus(fake_run)] == [1]


def test_asking_for_gpus_without_any_is_a_usage_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("optsearch._launch.detect_gpus", lambda: [])
    result = CliRunner().invoke(
        cli, ["start", "--study", "x", "--gpus", "all", "--storage", f"sqlite:///{tmp_path / 'g.db'}"], obj={}
    )
    assert result.exit_code == 2
    assert "none is visible" in result.output and "--workers" in result.output


def test_gpus_and_workers_together_are_refused(tmp_path) -> None:
    result = CliRunner().invoke(
        cli, ["start", "--study", "x", "--gpus", "0", "--workers", "2", "--storage", f"sqlite:///{tmp_path / 'g.db'}"], obj={}
    )
    assert result.exit_code == 2 and "not both" in result.output

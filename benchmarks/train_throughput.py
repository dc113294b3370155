"""Training throughput of the three generative models (samples per second of optimizer steps).

    python benchmarks/train_throughput.py [--steps 20] [--threads 2]

Times forward + backward + Adam steps of each model at its default config on synthetic batches of
the database's shapes (pixel2d 50x50 cells, truss3d octant graphs, voxel3d 48^3 units), on the CPU
and, when torch sees one, on CUDA (with the bfloat16 autocast the trainer uses there).
"""
from __future__ import annotations

import argparse
import time

import torch
import yaml

from pipeline_lib.config import SCHEMA_PATH, validate_config


def _models(cfg: dict):
    from pipeline_lib.pixel2d import learning as P
    from pipeline_lib.truss3d import learning as T
    from pipeline_lib.voxel3d import learning as V

    p, t, v = cfg["pixel2d"], cfg["truss3d"], cfg["voxel3d"]
    yield ("pixel2d", P.build(dict(p["model"], epochs=p["train"]["epochs"])), p["train"]["batch_size"],
           lambda n: [torch.rand(n, 1, 25, 25).round(), torch.randn(n, 4)])
    yield ("truss3d", T.build(dict(t["model"], epochs=t["train"]["epochs"])), t["train"]["batch_size"],
           lambda n: [torch.rand(n, 378).round(), torch.rand(n, 27) - 0.5, torch.randn(n, 9)])
    vm = V.build(v["model"])
    vm.set_phase({"reconstruction": 1, "kl": 1, "mdn": 1}, 1)
    yield ("voxel3d", vm, v["train"]["batch_size"], lambda n: [torch.rand(n, 1, 24, 24, 24).round(), torch.randn(n, 3)])


def bench(model, batch: int, make, device: torch.device, steps: int) -> float:
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = [t.to(device) for t in make(batch)]
    ctx = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device.type == "cuda" else (
        lambda: torch.autocast("cpu", enabled=False))
    for k in range(steps + 3):  # three warm-up steps
        if k == 3:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        with ctx():
            loss, _ = model.loss(data, 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = validate_config(yaml.safe_load(open(SCHEMA_PATH.parent.parent.parent / "config.yaml")))
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {args.threads} CPU threads" +
          (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA device"))
    for name, model, batch, make in _models(cfg):
        n = sum(p.numel() for p in model.parameters())
        for dev in devices:
            rate = bench(model, batch, make, dev, args.steps)
            print(f"{name:8s} {dev.type:4s} batch {batch:4d}  {n:>10,} parameters  {rate:10.0f} samples/s")


if __name__ == "__main__":
    main()

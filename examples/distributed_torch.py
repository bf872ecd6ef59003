"""Train a model with relu_xf modules under DistributedDataParallel (gloo, 2 CPU processes).

The launcher opens a TCP socket on 127.0.0.1 with a free port, starts two rank
processes and hands the socket to rank 0, whose ``TCPStore`` serves on it, so
the store never listens on another address. ``GLOO_SOCKET_IFNAME=lo`` makes
gloo's own connections use the loopback interface too. Each rank trains on its
half of every global batch, and DDP averages the gradients. The launcher then
trains the same model in one process on the full global batches and compares:

* the two ranks' parameters must be bit-identical, because both apply the same
  averaged gradient to the same broadcast initial weights;
* the ranks must match the single-process run to within float32 rounding,
  because averaging two half-batch gradients adds the per-sample terms in a
  different order than one full-batch sum.

Run:
    python examples/distributed_torch.py
    python examples/distributed_torch.py --dtype float64
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

WORLD_SIZE = 2
GLOBAL_BATCH = 16
FEATURES = 8
HIDDEN = 16
OUTPUTS = 4
STEPS = 5
# Seconds a rank may take in total, and that the store and gloo wait for a peer.
RANK_TIMEOUT = 240
COLLECTIVE_TIMEOUT = timedelta(seconds=120)


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """Return STEPS global batches of inputs and regression targets, seeded."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS, GLOBAL_BATCH, FEATURES))
    y = rng.standard_normal((STEPS, GLOBAL_BATCH, OUTPUTS))
    return x, y


def make_model(dtype_name: str):  # type: ignore[no-untyped-def]
    """Build the model with a fixed seed: Linear, PReLU, Linear, GELU, Linear, ELU, Linear."""
    import torch
    from torch import nn

    import relu_xf.torch as rt

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(FEATURES, HIDDEN),
        rt.PReLU(num_parameters=HIDDEN),
        nn.Linear(HIDDEN, HIDDEN),
        rt.GELU(),
        nn.Linear(HIDDEN, HIDDEN),
        rt.ELU(alpha=0.5),
        nn.Linear(HIDDEN, OUTPUTS),
    )
    return model.to(getattr(torch, dtype_name))


def train(model, rows: slice, dtype_name: str, mean=None) -> list[float]:  # type: ignore[no-untyped-def]
    """Take STEPS SGD steps on ``rows`` of every global batch; return the losses.

    ``mean``, when given, turns a local loss into the mean over all ranks, which
    is the loss on the global batch because every rank has as many rows.
    """
    import torch

    dtype = getattr(torch, dtype_name)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x_all, y_all = make_data()
    losses = []
    for step in range(STEPS):
        x = torch.tensor(x_all[step, rows], dtype=dtype)
        y = torch.tensor(y_all[step, rows], dtype=dtype)
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(mean(loss.detach()) if mean else loss.detach()))
    return losses


def parameters(module) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    return {name: p.detach().numpy().copy() for name, p in module.named_parameters()}


def listening_addresses() -> list[str]:
    """Return ``ip:port`` of every TCP socket this process listens on (Linux /proc only)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    addresses = []
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        if not os.path.exists(table):
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:  # 0A is TCP_LISTEN
                    continue
                ip_hex, port_hex = local.split(":")
                raw = bytes.fromhex(ip_hex)
                # /proc prints the address as 32-bit words in host (little-endian) order.
                words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
                family = socket.AF_INET if width == 4 else socket.AF_INET6
                ip = socket.inet_ntop(family, b"".join(words))
                addresses.append(f"{ip}:{int(port_hex, 16)}")
    return addresses


def _mean_over_ranks(dist, value):  # type: ignore[no-untyped-def]
    dist.all_reduce(value)
    return value / WORLD_SIZE


def run_rank(rank: int, port: int, listen_fd: int | None, dtype_name: str, out: Path) -> None:
    """Join the gloo process group, train under DDP and save this rank's parameters."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    store = dist.TCPStore(
        "127.0.0.1",
        port,
        WORLD_SIZE,
        is_master=rank == 0,
        timeout=COLLECTIVE_TIMEOUT,
        master_listen_fd=listen_fd,
    )
    dist.init_process_group(
        "gloo", store=store, rank=rank, world_size=WORLD_SIZE, timeout=COLLECTIVE_TIMEOUT
    )
    try:
        model = DistributedDataParallel(make_model(dtype_name))
        local = GLOBAL_BATCH // WORLD_SIZE
        rows = slice(rank * local, (rank + 1) * local)
        losses = train(model, rows, dtype_name, mean=lambda t: _mean_over_ranks(dist, t))
        addresses = listening_addresses()
        dist.barrier()
    finally:
        dist.destroy_process_group()
    np.savez(out / f"rank{rank}.npz", **parameters(model.module))
    (out / f"rank{rank}.json").write_text(json.dumps({"losses": losses, "listening": addresses}))


def launch(dtype_name: str, out: Path) -> dict[str, object]:
    """Start both ranks, wait for them (killing both on failure), then train the single-process twin."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(WORLD_SIZE)
    port = listener.getsockname()[1]
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for rank in range(WORLD_SIZE):
            command = [sys.executable, __file__, "--rank", str(rank), "--port", str(port)]
            command += ["--dtype", dtype_name, "--out", str(out)]
            fds: tuple[int, ...] = ()
            if rank == 0:
                command += ["--listen-fd", str(listener.fileno())]
                fds = (listener.fileno(),)
            processes.append(subprocess.Popen(command, env=env, pass_fds=fds))
        listener.close()
        deadline = time.monotonic() + RANK_TIMEOUT
        for rank, process in enumerate(processes):
            code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
            if code != 0:
                raise RuntimeError(
                    f"rank {rank} failed with exit code {code}; see its output above."
                )
    finally:
        listener.close()
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    import torch

    torch.set_num_threads(1)
    single = make_model(dtype_name)
    single_losses = train(single, slice(0, GLOBAL_BATCH), dtype_name)
    np.savez(out / "single.npz", **parameters(single))

    ranks = [dict(np.load(out / f"rank{r}.npz")) for r in range(WORLD_SIZE)]
    reference = parameters(single)
    rank_info = [json.loads((out / f"rank{r}.json").read_text()) for r in range(WORLD_SIZE)]
    summary = {
        "dtype": dtype_name,
        "port": port,
        "ranks_max_abs_diff": max(
            float(np.max(np.abs(ranks[0][k] - ranks[1][k]))) for k in reference
        ),
        "single_max_abs_diff": max(
            float(np.max(np.abs(ranks[0][k] - reference[k]))) for k in reference
        ),
        "rank0_losses": rank_info[0]["losses"],
        "single_losses": single_losses,
        "listening": [info["listening"] for info in rank_info],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--out", type=Path, help="directory for parameters and summary.json")
    parser.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank is not None:
        run_rank(args.rank, args.port, args.listen_fd, args.dtype, args.out)
        return
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        summary = launch(args.dtype, out)
    print(
        f"DDP over gloo, {WORLD_SIZE} processes, store on 127.0.0.1:{summary['port']}, {args.dtype}"
    )
    for rank, addresses in enumerate(summary["listening"]):  # type: ignore[arg-type]
        print(f"rank {rank} listening sockets: {', '.join(addresses) or 'none'}")
    print(
        f"global-batch losses, DDP:            {' '.join(f'{v:.6f}' for v in summary['rank0_losses'])}"
    )  # type: ignore[union-attr]
    print(
        f"global-batch losses, single process: {' '.join(f'{v:.6f}' for v in summary['single_losses'])}"
    )  # type: ignore[union-attr]
    print(f"max |rank 0 - rank 1| over all parameters: {summary['ranks_max_abs_diff']:.3g}")
    print(f"max |rank 0 - single process|:              {summary['single_max_abs_diff']:.3g}")


if __name__ == "__main__":
    main()

"""Training-loader epochs, honestly: every system hands every batch to the training loop as torch
tensors and the loop touches every byte (a sum over each tensor), so a zero-copy view costs what a
read costs. Loam (sequential and globally shuffled, in process and through a torch DataLoader with 2
workers) beside Lance's torch dataset, Hugging Face datasets `with_format("torch")` in a DataLoader,
and MosaicML Streaming (MDS files written from the same rows), each with 2 workers.

    bash bench/loaders.sh [--rows 300000]     # writes bench/results/<time>-loaders.json and loaders-latest.md
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import torch

BATCH = 256
COLUMNS = ["label", "features", "embedding"]


def table(rows):
    rng = np.random.default_rng(7)
    return pa.table({
        "label": pa.array(rng.integers(0, 10, rows, dtype=np.int64)),
        "features": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(rows * 16).astype(np.float32)), 16),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(rows * 128).astype(np.float32)), 128),
    })


def tensors(batch, **_):
    """An Arrow table or record batch of the three columns as torch tensors (no copy where Arrow allows)."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else pa.RecordBatch.from_pylist([], schema=batch.schema)
    return {"label": torch.from_numpy(batch.column(0).to_numpy()),
            "features": torch.from_numpy(batch.column(1).flatten().to_numpy().reshape(-1, 16)),
            "embedding": torch.from_numpy(batch.column(2).flatten().to_numpy().reshape(-1, 128))}


class LanceTakeBatches(torch.utils.data.Dataset):
    """Lance's way to a global shuffle: a seeded permutation, read a batch at a time with take."""

    def __init__(self, path, rows):
        self.path, self.rows, self.dataset = path, rows, None
        self.order = np.random.default_rng(1).permutation(rows)

    def __len__(self):
        return (self.rows + BATCH - 1) // BATCH

    def __getitem__(self, i):
        if self.dataset is None:
            import lance
            self.dataset = lance.dataset(self.path)
        return tensors(self.dataset.take(self.order[i * BATCH:(i + 1) * BATCH], columns=COLUMNS))


def consume(batches, rows):
    """The training loop: every tensor of every batch summed (every byte read); returns (rows, checksum)."""
    seen, total = 0, 0.0
    for batch in batches:
        for name in COLUMNS:
            value = batch[name]
            if not isinstance(value, torch.Tensor):
                value = torch.as_tensor(np.asarray(value))
            total += float(value.sum(dtype=torch.float64))
        seen += len(batch["label"])
    assert seen >= rows, (seen, rows)
    return seen, total


def timed(make, rows):
    start = time.perf_counter()
    seen, total = consume(make(), rows)
    return time.perf_counter() - start, seen, total


def stub_torchvision():
    """`import streaming` imports its vision datasets, which import torchvision; PyPI's torchvision does not
    load against the CPU torch wheel here (loaders.sh uninstalls it). StreamingDataset never calls it, so the
    two names those modules import are stand-ins that fail if anything does call them."""
    import sys
    import types
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass

    def unavailable(*args, **kwargs):
        raise RuntimeError("torchvision is not installed in the bench environment")

    import importlib.machinery
    for name in ["torchvision", "torchvision.datasets", "torchvision.transforms", "torchvision.transforms.functional"]:
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__spec__ = importlib.machinery.ModuleSpec(name, None)
    sys.modules["torchvision.datasets"].VisionDataset = object
    sys.modules["torchvision.datasets"].CIFAR10 = unavailable
    sys.modules["torchvision.transforms.functional"].to_tensor = unavailable


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    rows = args.rows
    work = tempfile.mkdtemp(prefix="loam-loaders-")
    loam_bin = os.path.join(args.bin, "loam")
    try:
        data = table(rows)
        with ipc.new_file(f"{work}/data.arrow", data.schema) as w:
            w.write_table(data, max_chunksize=65536)
        repo = f"{work}/repo"
        subprocess.run([loam_bin, "init", repo], check=True, capture_output=True)
        subprocess.run([loam_bin, "import", f"{work}/data.arrow", "-d", "train", "--repo", repo], check=True, capture_output=True)
        labels = np.asarray(data.column("label"))
        features = np.asarray(data.column("features").combine_chunks().flatten()).reshape(-1, 16)
        embedding = np.asarray(data.column("embedding").combine_chunks().flatten()).reshape(-1, 128)
        expected = float(labels.sum() + features.astype(np.float64).sum() + embedding.astype(np.float64).sum())

        import loam
        import loam.torch
        ds = loam.open(repo).dataset("train")
        results = {}

        def loam_numpy(shuffle):
            return lambda: ({k: torch.from_numpy(v) for k, v in b.items()} for b in ds.to_numpy(COLUMNS, batch_size=BATCH, shuffle=shuffle, seed=1))

        def loam_loader(shuffle):
            return lambda: loam.torch.DataLoader(ds.to_torch(COLUMNS, batch_size=BATCH, shuffle=shuffle, seed=1), num_workers=2)

        results["Loam, sequential (in process)"] = timed(loam_numpy(False), rows)
        results["Loam, shuffled (in process)"] = timed(loam_numpy(True), rows)
        results["Loam, sequential (DataLoader, 2 workers)"] = timed(loam_loader(False), rows)
        results["Loam, shuffled (DataLoader, 2 workers)"] = timed(loam_loader(True), rows)

        import lance
        from lance.torch.data import LanceDataset
        lance.write_dataset(data, f"{work}/train.lance")

        # Lance's runtime threads do not survive fork: its loaders use spawn, as Lance's docs advise.
        spawn = torch.multiprocessing.get_context("spawn")

        def lance_loader():
            source = LanceDataset(f"{work}/train.lance", batch_size=BATCH, columns=COLUMNS, to_tensor_fn=tensors)
            return torch.utils.data.DataLoader(source, batch_size=None, num_workers=2, multiprocessing_context=spawn)

        results["Lance torch dataset, sequential (2 workers)"] = timed(lance_loader, rows)

        def lance_shuffled():
            return torch.utils.data.DataLoader(LanceTakeBatches(f"{work}/train.lance", rows), batch_size=None, num_workers=2,
                                               multiprocessing_context=spawn)

        results["Lance take, shuffled (2 workers)"] = timed(lance_shuffled, rows)

        import datasets
        hf = datasets.Dataset(data).with_format("torch")

        def hf_loader():
            return torch.utils.data.DataLoader(hf, batch_size=BATCH, shuffle=True, num_workers=2,
                                               generator=torch.Generator().manual_seed(1))

        results["HF datasets with_format(torch), shuffled (2 workers)"] = timed(hf_loader, rows)

        stub_torchvision()
        from streaming import MDSWriter, StreamingDataset
        with MDSWriter(out=f"{work}/mds", columns={"label": "int64", "features": "ndarray:float32:16", "embedding": "ndarray:float32:128"}) as out:
            for i in range(rows):
                out.write({"label": int(labels[i]), "features": features[i], "embedding": embedding[i]})

        def streaming_loader():
            source = StreamingDataset(local=f"{work}/mds", shuffle=True, shuffle_seed=1, batch_size=BATCH)
            return torch.utils.data.DataLoader(source, batch_size=BATCH, num_workers=2)

        results["MosaicML Streaming, shuffled (2 workers)"] = timed(streaming_loader, rows)
        try:
            from streaming.base.util import clean_stale_shared_memory
            clean_stale_shared_memory()
        except Exception:
            pass

        for name, (seconds, seen, total) in results.items():
            close = abs(total - expected) <= 1e-6 * abs(expected) * max(1, seen / rows) + 1e-3 * max(1, seen - rows) * 200
            print(f"{name:55s} {seconds:7.2f} s  {seen:,} rows  sum {'ok' if seen == rows and close else f'{total:.6g} (padded or differs)'}", flush=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
        out = {"rows": rows, "batch": BATCH, "bytes": data.nbytes, "when": stamp,
               "results": {k: {"seconds": v[0], "rows": v[1]} for k, v in results.items()}}
        folder = os.path.join(os.path.dirname(__file__), "results")
        with open(os.path.join(folder, f"{stamp}-loaders.json"), "w") as f:
            json.dump(out, f, indent=1)
        sequential = results["Loam, sequential (in process)"][0]
        shuffled = results["Loam, shuffled (DataLoader, 2 workers)"][0]
        lines = [f"# Loader epochs ({stamp} UTC, one run)", "",
                 f"{rows:,} rows × (int64 label, 16 float32 features, 128 float32 embedding) = {data.nbytes / 1e6:.0f} MB; batches of {BATCH}.",
                 "Every system yields torch tensors and the loop sums every tensor of every batch (every byte read).", "",
                 "| loader | seconds | rows/s | vs Loam shuffled DataLoader |", "|---|---:|---:|---:|"]
        for name, (seconds, seen, _) in results.items():
            lines.append(f"| {name} | {seconds:.2f} | {seen / seconds:,.0f} | {seconds / shuffled:.2f}× |")
        loader_sequential = results["Loam, sequential (DataLoader, 2 workers)"][0]
        lines += ["", f"Loam's shuffled DataLoader epoch takes {shuffled / loader_sequential:.2f}× its sequential DataLoader epoch "
                  f"and {shuffled / sequential:.2f}× its sequential in-process epoch."]
        with open(os.path.join(folder, "loaders-latest.md"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

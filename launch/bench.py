"""Benchmarks that print JSON: `python launch/bench.py {formats,envs,rewards,retrieval,rollout,learner,async,memory,eval,all,gpu}`.

`all` runs every CPU benchmark; `gpu` runs on a machine with a CUDA device only (launch/benchmarks/gpu.py).

Speed claims are ratios against a baseline measured in the same run, because these machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _formats() -> dict:
    from launch.benchmarks.formats import run

    return run()


def _envs() -> dict:
    from launch.benchmarks.envs import run

    return run()


def _rewards() -> dict:
    from launch.benchmarks.rewards import run

    return run()


def _retrieval() -> dict:
    from launch.benchmarks.retrieval import run

    return run()


def _rollout() -> dict:
    from launch.benchmarks.rollout import run

    return run()


def _learner() -> dict:
    from launch.benchmarks.learner import run

    return run()


def _async() -> dict:
    from launch.benchmarks.async_step import run

    return run()


def _memory() -> dict:
    from launch.benchmarks.memory import run

    return run()


def _eval() -> dict:
    from launch.benchmarks.eval_workers import run

    return run()


def _gpu(out: str | None, tokenizer: str | None, only: list[str] | None) -> dict:
    from launch.benchmarks.gpu import run

    return run(tokenizer_dir=tokenizer, out=out, only=only)


BENCHES = {"formats": _formats, "envs": _envs, "rewards": _rewards, "retrieval": _retrieval, "rollout": _rollout,
           "learner": _learner, "async": _async, "memory": _memory, "eval": _eval}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("name", choices=[*BENCHES, "all", "gpu"])
    ap.add_argument("--out", help="gpu: also write the JSON to this file, rewritten after every part")
    ap.add_argument("--tokenizer", help="gpu: SmolLM2's tokenizer directory (default: the converted smollm2-135m's)")
    ap.add_argument("--only", nargs="+", help="gpu: run only the parts whose names start with these")
    args = ap.parse_args(argv)
    if args.name == "gpu":
        print(json.dumps(_gpu(args.out, args.tokenizer, args.only), indent=2))
        return 0
    names = list(BENCHES) if args.name == "all" else [args.name]
    out = {n: BENCHES[n]() for n in names}
    print(json.dumps(out if len(names) > 1 else out[names[0]], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

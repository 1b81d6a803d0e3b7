"""The local Ray that init_ray starts: its workers keep memory freed through glibc instead of faulting it in again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rl.ray_utils import CPU_MALLOC_ENV, REPO_ROOT

# Page faults of three malloc/free rounds of 64 MiB (above glibc's largest mmap threshold), written in full,
# in a fresh thread (Ray Train runs the learner in one). Measured with glibc's own malloc, which is what the
# settings tune: a cold 64 MiB block takes about 16k faults here (one per 4 KiB page).
FAULTS = """
def faults():
    import ctypes, resource, threading

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    out = []
    def work():
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
            p = libc.malloc(64 << 20)
            ctypes.memset(p, 1, 64 << 20)
            libc.free(p)
            out.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    return out
"""

# One local Ray for both checks on it (a Ray start costs about 10 s here): the page faults in a worker, and the
# addresses of the node, the GCS and a worker.
IN_RAY = FAULTS + """
import json, ray
from rl.ray_utils import init_ray

init_ray(2)
@ray.remote
def where():
    return ray.util.get_node_ip_address()
print(json.dumps({
    "faults": ray.get(ray.remote(faults).remote()),
    "addresses": [ray.nodes()[0]["NodeManagerAddress"], ray.get_runtime_context().gcs_address, ray.get(where.remote())],
}))
ray.shutdown()
"""

PLAIN = FAULTS + """
import json
print(json.dumps(faults()))
"""


def _run_json(code: str, env: dict[str, str] | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | (env or {})
    full_env["PYTHONPATH"] = str(REPO_ROOT)
    full_env.pop("RAY_ADDRESS", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_default_glibc_faults_every_big_allocation_in():
    # The control: without the settings each allocation is a fresh mmap, so the test below can fail.
    counts = _run_json(PLAIN)
    assert min(counts) > 4_000, counts


def test_tuned_glibc_reuses_freed_memory():
    counts = _run_json(PLAIN, CPU_MALLOC_ENV)
    assert counts[0] > 4_000, counts  # the first allocation is cold
    assert max(counts[1:]) < 100, counts


@pytest.fixture(scope="module")
def in_ray() -> dict:
    return _run_json(IN_RAY)


def test_init_ray_workers_get_the_allocator_settings(in_ray):
    counts = in_ray["faults"]
    assert max(counts[1:]) < 100, counts


def test_a_local_ray_and_its_workers_stay_on_the_loopback_address(in_ray):
    node, gcs, worker = in_ray["addresses"]
    assert node == worker == "127.0.0.1" and gcs.startswith("127.0.0.1:")

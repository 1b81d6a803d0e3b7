"""A Ray head shared by the integration tests that join a cluster instead of starting their own Ray.

Every launch that starts a local Ray pays its start and shutdown (about 7 s on 2 cores), and the suite has a
dozen. The launches that end normally join this one head instead: `ray job submit` to it, or `RAY_ADDRESS` set to
it (`rl.ray_utils.init_ray` joins a cluster when that is set, as on a real one). The runs that a test kills keep
their own local Ray, killed with them, so that nothing of theirs outlives the kill; and the local start itself is
tested in tests/rl/test_ray_utils.py.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports. Every socket stays bound until all n are drawn: the kernel hands a port
    that was just released out again, and a head given one port twice exits at once."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


@dataclass(frozen=True)
class RayHead:
    """A running `ray start --head` on 127.0.0.1."""

    address: str  # the GCS address, for RAY_ADDRESS
    dashboard: str  # the job server, for `ray job submit --address`
    env: dict[str, str]  # the environment the head runs in, for the `ray` CLI
    log: Path

    def joined(self, env: dict[str, str]) -> dict[str, str]:
        """`env` for a launch that joins this head (RAY_ADDRESS), on its loopback address."""
        from rl.ray_utils import LOOPBACK_ENV

        return {**env, **LOOPBACK_ENV, "RAY_ADDRESS": self.address}


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory) -> RayHead:
    from rl.ray_utils import CPU_MALLOC_ENV, LOOPBACK_ENV

    venv_bin = str(Path(sys.executable).parent)
    # The head's files go to a temp dir of its own and its processes into a session of their own: the fixture
    # stops exactly this head (`ray stop` would stop every Ray on the machine, a demo's included).
    ray_tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths have a length limit
    # The workers inherit the head's environment: the same settings `init_ray` gives a local Ray's workers.
    env = {**os.environ, **LOOPBACK_ENV, **CPU_MALLOC_ENV, "PATH": f"{venv_bin}:{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false", "RAY_AUTH_MODE": "disabled",
           "RAY_TMPDIR": str(ray_tmp), "WANDB_MODE": "offline", "TRL_EXPERIMENTAL_SILENCE": "1"}
    gcs, dash, agent, agent_grpc, runtime_env, metrics_port, client = free_ports(7)
    log_path = tmp_path_factory.mktemp("ray_head") / "head.log"
    log = log_path.open("w")
    # Every port given: Ray's fixed defaults (the job agent's 52365) are taken while another local Ray runs.
    # 8 logical CPUs: the largest run (2 learners and 2 rollout workers) fits, as with a local Ray.
    head = subprocess.Popen(
        [str(Path(venv_bin) / "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(gcs),
         "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dash), "--dashboard-agent-listen-port", str(agent),
         "--dashboard-agent-grpc-port", str(agent_grpc), "--runtime-env-agent-port", str(runtime_env),
         "--metrics-export-port", str(metrics_port), "--ray-client-server-port", str(client), "--num-cpus", "8",
         "--disable-usage-stats"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    info = RayHead(address=f"127.0.0.1:{gcs}", dashboard=f"http://127.0.0.1:{dash}", env=env, log=log_path)
    try:
        deadline = time.time() + 120
        while not _accepts(gcs):
            assert head.poll() is None, f"the Ray head exited:\n{log_path.read_text()[-4000:]}"
            assert time.time() < deadline, f"the Ray head did not come up:\n{log_path.read_text()[-4000:]}"
            time.sleep(0.2)
        yield info
    finally:
        # SIGTERM lets `ray start --block` stop its processes, which takes half a minute on 2 cores; nothing of
        # the head is kept, so its whole process group is killed after a short grace.
        with contextlib.suppress(ProcessLookupError):  # a head that exited may have taken its whole group with it
            os.killpg(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(3)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(60)
        log.close()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0

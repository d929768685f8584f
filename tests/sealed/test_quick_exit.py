"""The hot commands end through cli/leave.py (no interpreter teardown): nothing may be lost by it —
not output, not the exit code, not an atexit handler, not a thread's work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .helpers import docs_of, secret, yaml_of

ENV = {"KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin"}


def _leave(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "leaving.py"
    script.write_text(code)
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=ENV,
                          check=False)


def test_a_large_seal_through_a_pipe_arrives_whole(tmp_path, cert_file):
    """Buffered stdout is flushed before the process ends: 300 Secrets in, 300 SealedSecrets out."""
    source = yaml_of(*(secret(f"s{i}", string_data={"password": f"value-{i}" * 20}) for i in range(300)))
    done = subprocess.run([sys.executable, "-m", "secrets_kit_cli", "seal", "--cert", str(cert_file)],
                          input=source.encode(), capture_output=True, timeout=120, env=ENV, check=False)
    assert done.returncode == 0, done.stderr
    sealed = docs_of(done.stdout)
    assert [d["metadata"]["name"] for d in sealed] == [f"s{i}" for i in range(300)]
    assert done.stderr.decode().endswith("sealed 300 document(s) from 1 file(s)\n")


def test_exit_codes_and_messages_survive(tmp_path, cert_file):
    missing = subprocess.run([sys.executable, "-m", "secrets_kit_cli", "seal", "--cert", str(tmp_path / "no.pem")],
                             input=b"", capture_output=True, timeout=60, env=ENV, check=False)
    assert missing.returncode == 5
    assert missing.stderr.decode() == (f"secrets-kit: error: {tmp_path / 'no.pem'}: cannot read certificate: "
                                       "No such file or directory\n")
    bad = subprocess.run([sys.executable, "-m", "secrets_kit_cli", "seal", "--cert", str(cert_file)],
                         input=b"kind: [", capture_output=True, timeout=60, env=ENV, check=False)
    assert bad.returncode == 3, bad.stderr
    usage = subprocess.run([sys.executable, "-m", "secrets_kit_cli", "seal", "--no-such-flag"],
                           capture_output=True, timeout=60, env=ENV, check=False)
    assert usage.returncode == 2 and b"No such option" in usage.stderr


def test_atexit_handlers_run_and_the_status_is_kept(tmp_path):
    done = _leave("import atexit\nfrom secrets_kit_cli.leave import leave\n"
                  "atexit.register(print, 'handler ran')\nprint('work done')\nleave(3)\n", tmp_path)
    assert (done.returncode, done.stdout) == (3, "work done\nhandler ran\n")


def test_a_live_thread_is_waited_for(tmp_path):
    marker = tmp_path / "thread-finished"
    done = _leave("import threading, time\nfrom secrets_kit_cli.leave import leave\n"
                  f"def late():\n    time.sleep(0.3)\n    open({str(marker)!r}, 'w').write('ok')\n"
                  "threading.Thread(target=late).start()\nleave(0)\n", tmp_path)
    assert done.returncode == 0 and marker.read_text() == "ok"


def test_a_message_as_exit_status_is_printed(tmp_path):
    done = _leave("from secrets_kit_cli.leave import leave\nleave('stopped: see above')\n", tmp_path)
    assert (done.returncode, done.stderr) == (1, "stopped: see above\n")


def test_a_closed_pipe_ends_quietly(tmp_path, cert_file):
    """`secrets-kit seal ... | head -1`: the reader goes away; no traceback, as before."""
    source = yaml_of(*(secret(f"s{i}", string_data={"password": "x" * 2000}) for i in range(200))).encode()
    done = subprocess.run(f"{sys.executable} -m secrets_kit_cli seal --cert {cert_file} | head -c 10",
                          shell=True, input=source, capture_output=True, timeout=120, env=ENV, check=False)
    assert done.stdout == b"---\napiVer"
    assert b"Traceback" not in done.stderr and b"Exception ignored" not in done.stderr, done.stderr

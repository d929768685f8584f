"""The render step on a repository of 200 SOPS-encrypted Secrets (encrypted by the real sops).

Ours: one `secrets-kit render` process (plain folder; kustomization via `kubectl kustomize`;
and zero-plaintext mode, re-sealing all 200 for a 4096-bit controller-shaped certificate).
Baseline: `sops -d` run once per file in a loop, which is what a shell-script plugin does.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import peer, secrets_kit

COUNT = 200


def _timed(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, bytes]:
    out = subprocess.run(argv, check=True, capture_output=True, env=env)  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(argv, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), out.stdout


def _sops_loop(sops: str, files: list[Path], env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        for path in files:
            subprocess.run([sops, "decrypt", str(path)], check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _make_repo(root: Path, sops: str, recipient: str) -> list[Path]:
    app = root / "app"
    app.mkdir(parents=True)
    (root / ".git").mkdir()
    files = []
    for i in range(COUNT):
        plain = app / f"s{i:03d}.yaml"
        plain.write_text(f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-{i:03d}\n  namespace: bench\n"
                         f"type: Opaque\nstringData:\n  username: user-{i}\n  password: bench-password-{i:05d}\n"
                         f"  url: postgres://user-{i}:bench-password-{i:05d}@db-{i}:5432/app\n")
        target = app / f"s{i:03d}.sops.yaml"
        data = subprocess.run([sops, "encrypt", "--age", recipient, "--encrypted-regex", "^(data|stringData)$",
                               str(plain)], check=True, capture_output=True).stdout
        target.write_bytes(data)
        plain.unlink()
        files.append(target)
    kust = root / "kust"
    kust.mkdir()
    (kust / "kustomization.yaml").write_text("resources:\n" + "".join(f"  - ../app/{p.name}\n" for p in files))
    return files


def main() -> None:
    sops, age_keygen = peer("sops"), peer("age-keygen")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run([age_keygen, "-o", str(root / "key.txt")], check=True, capture_output=True)
        recipient = next(line.split(": ", 1)[1] for line in (root / "key.txt").read_text().splitlines()
                         if line.startswith("# public key"))
        started = time.perf_counter()
        files = _make_repo(root / "repo", sops, recipient)
        setup = time.perf_counter() - started
        from secrets_kit.sealed.keys import KeyFolder

        cert = KeyFolder(root / "keys").create(name="bench").cert_path
        env = {**os.environ, "SOPS_AGE_KEY_FILE": str(root / "key.txt"), "SECRETS_KIT_STATE_DIR": str(root / "st")}
        # kustomize refuses files outside the kustomization root unless it is told otherwise:
        # the kustomization lists files of a sibling folder, so the repository root is the boundary.
        ours_plain, out_plain = _timed([*secrets_kit(), "render", str(root / "repo" / "app")], 3, env)
        ours_sealed, out_sealed = _timed([*secrets_kit(), "render", str(root / "repo" / "app"), "--seal-to",
                                          str(cert)], 3, env)
        kust_dir = root / "repo" / "kust"
        (kust_dir / "kustomization.yaml").write_text(
            "resources:\n" + "".join(f"  - {p.name}\n" for p in files))
        for path in files:
            (kust_dir / path.name).write_bytes(path.read_bytes())
        ours_kust, _ = _timed([*secrets_kit(), "render", str(kust_dir)], 3, env)
        kubectl_only, _ = _timed(["kubectl", "kustomize", str(kust_dir)], 3, env)
        loop = _sops_loop(sops, files, env, 2)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        assert out_plain.count(b"kind: Secret") == COUNT and b"bench-password-00007" in out_plain
        assert out_sealed.count(b"kind: SealedSecret") == COUNT and b"bench-password" not in out_sealed

    print(f"## Render step ({COUNT} SOPS-encrypted Secrets, age; `python bench/bench_render.py`)")
    print(f"- setup: {COUNT} files encrypted by the real sops in {setup:.1f} s")
    print(f"- baseline, `sops decrypt` once per file in a loop: {loop:.2f} s ({loop / COUNT * 1000:.1f} ms per file)")
    print(f"- ours, `secrets-kit render` (plain folder, one process): {ours_plain:.2f} s "
          f"— **{loop / ours_plain:.1f}x faster** than the loop")
    print(f"- ours, kustomization (`kubectl kustomize` + decrypt): {ours_kust:.2f} s "
          f"(of which `kubectl kustomize` alone: {kubectl_only:.2f} s) — {loop / ours_kust:.1f}x faster than the loop")
    print(f"- ours, zero-plaintext (`--seal-to`, all {COUNT} re-sealed to a 4096-bit cert): {ours_sealed:.2f} s "
          f"— {loop / ours_sealed:.1f}x faster than the loop (which does not even seal)")
    print(f"- peak RSS of the largest child process: {peak:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())

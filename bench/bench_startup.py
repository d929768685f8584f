"""CLI start-up: `secrets-kit --help` wall time, next to kubeseal's and sops's."""

from __future__ import annotations

import shutil

from common import peer, secrets_kit, time_command


def main() -> None:
    ours = time_command([*secrets_kit(), "--help"], runs=15)
    on_path = shutil.which("secrets-kit")
    via_path = time_command([on_path, "--help"], runs=15) if on_path else None
    kubeseal = time_command([peer("kubeseal"), "--help"], runs=15)
    sops = time_command([peer("sops"), "--help"], runs=15)
    print("## CLI start-up (`--help`, median of 15)")
    print(f"- secrets-kit --help: {ours * 1000:.0f} ms (budget 300 ms)")
    if via_path is not None and on_path != secrets_kit()[0]:
        print(f"- secrets-kit --help through PATH ({on_path}, e.g. a pyenv shim): {via_path * 1000:.0f} ms")
    print(f"- kubeseal --help: {kubeseal * 1000:.0f} ms (ratio ours/kubeseal {ours / kubeseal:.1f}x)")
    print(f"- sops --help: {sops * 1000:.0f} ms (ratio ours/sops {ours / sops:.1f}x)")


if __name__ == "__main__":
    main()

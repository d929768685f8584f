#!/usr/bin/env bash
# Times "pip install -e SPEC && secrets-kit quickstart" in a fresh venv (warm pip cache); prints seconds, venv size, package count.
# usage: bench/install_time.sh SRC_DIR VENV_DIR SPEC   e.g. bench/install_time.sh . /tmp/v-all ".[all,dev]"
set -euo pipefail
src=$1; venv=$2; spec=$3
rm -rf "$venv"; python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
cd "$src"
start=$(date +%s.%N)
"$venv/bin/pip" install -q -e "$spec" >/dev/null
mid=$(date +%s.%N)
PATH="$venv/bin:$PATH" secrets-kit quickstart --workdir "$(mktemp -d)" >/dev/null
end=$(date +%s.%N)
echo "spec=$spec install_s=$(echo "$mid - $start" | bc) quickstart_s=$(echo "$end - $mid" | bc) total_s=$(echo "$end - $start" | bc) venv_mb=$(du -sm "$venv" | cut -f1) packages=$("$venv/bin/pip" list --format=freeze 2>/dev/null | wc -l)"

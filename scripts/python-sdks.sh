#!/usr/bin/env bash
# Installs the official Python SDKs the fast-fail tests drive (pinned in
# test/support/python/requirements.txt) into a virtualenv, by default in the user cache beside the
# kube-testenv binaries. The tests find it there, or wherever AICB_SDK_PYTHON points.
#   scripts/python-sdks.sh            # -> ~/.cache/ai-circuit-breaker/python-sdks
#   scripts/python-sdks.sh DIR        # -> DIR
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-circuit-breaker/python-sdks}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r test/support/python/requirements.txt
"$venv/bin/python" -c 'import openai, anthropic; print("python SDKs:", "openai", openai.__version__, "anthropic", anthropic.__version__)'

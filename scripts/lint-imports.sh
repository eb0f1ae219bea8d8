#!/usr/bin/env bash
# import-linter over the import package `promptkiln` as installed: the layers and the no-cycle
# contracts in pyproject's [tool.importlinter] (see package-tree.sh for why a shadow tree).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree=$("$root/scripts/package-tree.sh" importlint)
cd "$tree"
exec "$root/.venv/bin/lint-imports" "$root/pyproject.toml" --no-cache --no-logo "$@"

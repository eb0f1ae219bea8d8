#!/usr/bin/env bash
# mypy --strict over the import package `promptkiln` as installed (see package-tree.sh for why a
# shadow tree).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree=$("$root/scripts/package-tree.sh" typecheck)
cd "$tree"
exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" -p promptkiln "$@"

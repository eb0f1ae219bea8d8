#!/usr/bin/env bash
# mypy --strict over the import package `promptkiln` as installed: sandbox/, llm/, engines/ and templates/
# live at the top level but import as promptkiln.sandbox / promptkiln.llm (pyproject package-dir),
# which mypy cannot map by itself. Build a shadow tree of symlinks in that shape and check it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree="$root/.cache/typecheck"
rm -rf "$tree"
mkdir -p "$tree/promptkiln"
for f in "$root"/promptkiln/*; do ln -s "$f" "$tree/promptkiln/"; done
ln -s "$root/sandbox" "$tree/promptkiln/sandbox"
ln -s "$root/llm" "$tree/promptkiln/llm"
ln -s "$root/server" "$tree/promptkiln/server"
ln -s "$root/engines" "$tree/promptkiln/engines"
cd "$tree"
exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" -p promptkiln "$@"

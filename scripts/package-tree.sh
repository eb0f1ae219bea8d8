#!/usr/bin/env bash
# Build a shadow tree of the import package `promptkiln` as installed, under .cache/<name>, and
# print its path: sandbox/, llm/, server/ and engines/ live at the top level but import as
# promptkiln.sandbox / promptkiln.llm / ... (pyproject package-dir), which neither mypy nor
# import-linter can map by itself. Symlinks, so every tool reads the real files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree="$root/.cache/${1:?usage: package-tree.sh NAME}"
rm -rf "$tree"
mkdir -p "$tree/promptkiln"
for f in "$root"/promptkiln/*; do ln -s "$f" "$tree/promptkiln/"; done
ln -s "$root/sandbox" "$tree/promptkiln/sandbox"
ln -s "$root/llm" "$tree/promptkiln/llm"
ln -s "$root/server" "$tree/promptkiln/server"
ln -s "$root/engines" "$tree/promptkiln/engines"
echo "$tree"

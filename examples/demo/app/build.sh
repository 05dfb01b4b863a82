#!/usr/bin/env bash
# Builds the demo app: bin/app, the server with the version baked in (tend passes TEND_VERSION).
# With --image NAME (the Docker runtime) also an image NAME from scratch holding this machine's
# node binary, the libraries it loads and bin/app: no base image to download.
set -euo pipefail
cd "$(dirname "$0")"
version=${TEND_VERSION:-$(git describe --tags 2>/dev/null || echo dev)}
mkdir -p bin
sed "s/__VERSION__/${version}/" server.js >bin/app
chmod 0755 bin/app
echo "build.sh: bin/app ${version}"
[[ ${1:-} == --image && -n ${2:-} ]] || exit 0

node=$(readlink -f "$(command -v node)")
ctx=$(mktemp -d "${TMPDIR:-/tmp}/demo-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/app" "$ctx/root/tmp"
cp bin/app "$ctx/root/app/server.js"
for file in "$node" $(ldd "$node" | grep -o '/[^ ]*'); do cp -L --parents "$file" "$ctx/root/"; done
printf 'FROM scratch\nCOPY root/ /\nENTRYPOINT ["%s", "/app/server.js"]\n' "$node" >"$ctx/Dockerfile"
docker build --quiet --label "tend.demo=${2%%:*}" --tag "$2" "$ctx"
echo "build.sh: image $2 ${version}"

#!/bin/sh
# Runs one of meshlite's executables on the project's own Node.js (node_modules/.bin/node, brought by
# `npm ci`), whichever `node` is first on PATH. Usage: launch.sh NAME [ARGS...]
# bin/meshctl, bin/istiod, bin/ztunnel and bin/waypoint call it; `export PATH="$PWD/bin:$PATH"` (or
# `npm link`) makes them commands.
set -e
name=$1
shift
root=$(dirname "$(dirname "$(readlink -f "$0")")")
node="$root/node_modules/.bin/node"
[ -x "$node" ] || node=node # main.js then says which Node it needs and how to get it
exec "$node" "$root/dist/src/$name/main.js" "$@"

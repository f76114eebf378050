#!/usr/bin/env bash
# Put GNUmed's ATC list (WHO ATC, 2009 list, English/French/German names) where
# `mash-kg load atc` and mash_kg.loaders.atc.default_file() look when no --file is given:
#   ${MASH_KG_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mash-kg}/atc/atc_only-utf8.csv
# (or the folder given as $1). It comes from the Debian package gnumed-server, downloaded with
# apt-get (not installed): var/lib/gnumed/server/sql/v14-v15/data/atc_only-utf8.csv inside it.
# A file atc_only-utf8.csv.source beside it records the package version and the file's sha256.
set -euo pipefail

if [ -n "${1:-}" ]; then
  dest="$1"
elif [ -n "${MASH_KG_CACHE:-}" ]; then
  dest="$MASH_KG_CACHE/atc"
else
  dest="${XDG_CACHE_HOME:-$HOME/.cache}/mash-kg/atc"
fi
inner="var/lib/gnumed/server/sql/v14-v15/data/atc_only-utf8.csv"

command -v apt-get >/dev/null || { echo "error: apt-get not found (a Debian/Ubuntu machine is needed; or copy $inner out of gnumed-server_*.deb by hand)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt's sandbox user writes the .deb here
( cd "$work" && apt-get download -q gnumed-server >/dev/null 2>"$work/apt.log" ) || {
  echo "error: apt-get download gnumed-server failed (run apt-get update first?): $(tail -1 "$work/apt.log")" >&2
  exit 1
}
deb="$(ls "$work"/gnumed-server_*.deb)"
dpkg-deb -x "$deb" "$work/x"
[ -f "$work/x/$inner" ] || { echo "error: $(basename "$deb") has no $inner" >&2; exit 1; }
mkdir -p "$dest"
cp "$work/x/$inner" "$dest/atc_only-utf8.csv.tmp"
mv "$dest/atc_only-utf8.csv.tmp" "$dest/atc_only-utf8.csv"
version="$(dpkg-deb -f "$deb" Version)"
sum="$(sha256sum "$dest/atc_only-utf8.csv" | cut -d' ' -f1)"
printf 'gnumed-server %s %s sha256 %s\n' "$version" "$inner" "$sum" > "$dest/atc_only-utf8.csv.source"
echo "ATC list: $dest/atc_only-utf8.csv (gnumed-server $version)"

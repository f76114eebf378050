#!/usr/bin/env bash
# Set up mash-kg on a fresh machine: Java 17 + Maven (for the local Neo4j), a virtual
# environment in .venv with the locked dependencies, and mash-kg itself (editable).
# Idempotent and quick when nothing changed. Neo4j's jars are fetched from Maven Central by
# the first `mash-kg neo4j start` (cached under ~/.cache/mash-kg and ~/.m2).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bootstrap] %s\n' "$*" >&2; }

# --- Java 17/21 and Maven ---------------------------------------------------------------
need_pkgs=()
if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then need_pkgs+=(openjdk-17-jdk-headless); fi
if ! command -v mvn >/dev/null 2>&1; then need_pkgs+=(maven); fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_pkgs[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    say "missing: ${need_pkgs[*]} (install a JDK 17 or 21 and Maven, then rerun)"; exit 1
  fi
fi

# --- Chromium and its driver (Debian packages): the review page's browser test ------------
# tests/review/test_browser.py drives `mash-kg review serve` in headless Chromium via selenium
browser_pkgs=()
if ! command -v chromium >/dev/null 2>&1; then browser_pkgs+=(chromium); fi
if ! command -v chromedriver >/dev/null 2>&1; then browser_pkgs+=(chromium-driver); fi
if [ ${#browser_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${browser_pkgs[*]} with apt-get (the review page's browser test)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${browser_pkgs[@]}" >/dev/null
  else
    say "note: ${browser_pkgs[*]} missing; the browser test of the review page needs them (apt-get install chromium chromium-driver)"
  fi
fi

# --- Python 3.11 and uv -------------------------------------------------------------------
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY="$(command -v "$cand")"; break
    fi
  done
fi
[ -n "$PY" ] || { say "Python 3.11 not found (set PYTHON=/path/to/python3.11)"; exit 1; }
if ! command -v uv >/dev/null 2>&1; then
  say "installing uv (fast, cached installs of the locked dependencies)"
  "$PY" -m pip install -q --disable-pip-version-check uv
fi
UV="$(command -v uv || echo "$PY -m uv")"

# --- the environment ----------------------------------------------------------------------
stamp=".venv/.mash-kg-stamp"
want="$(cat requirements.lock requirements-extra.txt pyproject.toml | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/mash-kg ]; then
  exit 0
fi
[ -x .venv/bin/python ] || $UV venv -q -p "$PY" .venv
say "installing the locked dependencies into .venv (torch is large the first time)"
$UV pip sync -q -p .venv/bin/python requirements.lock
$UV pip install -q -p .venv/bin/python --no-deps -r requirements-extra.txt
$UV pip install -q -p .venv/bin/python --no-deps -e .
echo "$want" > "$stamp"
say "ready: .venv/bin/mash-kg"

#!/usr/bin/env bash
# Set up svtk on this machine; safe to run again (it only does what is missing).
#
#   bin/setup.sh            Debian packages for the recipes + virtualenv .venv + svtk[dev]
#   bin/setup.sh --no-apt   skip the Debian packages (no speech synthesis then)
#
# Virtual environment: .venv in the repository root, or $SVTK_VENV (created with the first
# python3 >= 3.10 found, or $PYTHON). svtk is installed in editable mode
# with its dev extra; the install is skipped while pyproject.toml and conf/pip-constraints.txt are
# unchanged since the last successful one.
#
# Debian packages (espeak-ng, flite, festival + voices, sox) are installed with apt-get when
# missing and running as root; otherwise the exact command to run is printed and setup stops.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. bin/log.sh

apt=true
for arg in "$@"; do
  case "$arg" in
    --no-apt) apt=false ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$0: unknown option $arg" >&2; exit 1 ;;
  esac
done

# ---- Debian packages -------------------------------------------------------------------------
debs=(espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox libsox-fmt-all)
if $apt; then
  missing=()
  for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
      log "installing Debian packages: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "svtk needs these Debian packages for its recipes; install them, then run $0 again:" >&2
      echo "  sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
fi

# ---- Python environment ----------------------------------------------------------------------
venv=${SVTK_VENV:-$root/.venv}
if [ ! -x "$venv/bin/python" ]; then
  py=${PYTHON:-}
  if [ -z "$py" ]; then
    for c in python3 python3.13 python3.12 python3.11 python3.10; do
      if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        py=$c; break
      fi
    done
  fi
  [ -n "$py" ] || { echo "$0: need Python >= 3.10 (set PYTHON=/path/to/python3)" >&2; exit 1; }
  log "creating virtual environment $venv with $($py --version)"
  "$py" -m venv "$venv"
fi

stamp=$venv/.svtk-setup
want=$(cat pyproject.toml conf/pip-constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$venv/bin/python" -c 'import svtk' 2>/dev/null; then
  log "installing svtk[dev] into $venv (torch is large: the first time takes a few minutes)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -c conf/pip-constraints.txt -e ".[dev]"
  echo "$want" > "$stamp"
fi
log "svtk $("$venv/bin/python" -c 'import svtk; print(svtk.__version__)') ready in $venv"

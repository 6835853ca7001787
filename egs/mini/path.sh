# Sourced by run.sh: puts the svtk checkout's virtual environment (bin/setup.sh) on PATH.
svtk_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
svtk_venv=${SVTK_VENV:-$svtk_root/.venv}
if [ -f "$svtk_venv/bin/activate" ]; then
  . "$svtk_venv/bin/activate"
fi
export PYTHONUNBUFFERED=1
if ! command -v svtk >/dev/null; then
  echo "svtk is not installed: run $svtk_root/bin/setup.sh first" >&2
  exit 1
fi

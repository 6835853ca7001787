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
# The same CPU kernels on every x86 machine: torch, MKL and oneDNN pick AVX-512 kernels where
# the CPU has them, and these sum floats in another order than the AVX2 ones, so the same run
# gave other last digits, and other scores within the seed spread, on an AVX-512 machine. With
# these pins that machine reproduced every row of RESULTS.md, made on an AVX2 one (2026-12-02),
# at no cost in time that we could measure. SVTK_CPU_ISA=native lets the libraries choose; the
# settings are recorded in each experiment's run_info.json and replayed by its cmd.sh.
if [ "${SVTK_CPU_ISA:-avx2}" = avx2 ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
  export ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-avx2}
  export MKL_ENABLE_INSTRUCTIONS=${MKL_ENABLE_INSTRUCTIONS:-AVX2}
  export ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-AVX2}
fi

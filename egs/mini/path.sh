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
# The same CPU kernels on every machine of a CPU vendor: torch, MKL and oneDNN pick AVX-512
# kernels where the CPU has them, and these sum floats in another order than the AVX2 ones, so
# the same run gave other last digits, and other scores within the seed spread, on an AVX-512
# AMD EPYC than on an AVX2 one; pinned, it reproduced every row of RESULTS.md (2026-12-02).
# torch and oneDNN are pinned to AVX2 everywhere, at no cost in time that we could measure.
# MKL, which does the fp32 matrix products, is pinned to AVX2 on AMD (no cost there either) and
# to AVX-512 on an Intel CPU that has it: there AVX2 made a CTC step 20 % longer (2026-12-03,
# Intel Xeon: 123 vs 101 ms) and MKL's Intel code paths give other last digits than its AMD ones
# whatever the pin. SVTK_CPU_ISA=avx2 pins MKL to AVX2 on Intel too (to reproduce a run of an
# Intel CPU without AVX-512), SVTK_CPU_ISA=native lets the libraries choose. The settings are
# recorded in each experiment's run_info.json and replayed by its cmd.sh.
svtk_isa=${SVTK_CPU_ISA:-pinned}
if [ "$svtk_isa" != native ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
  export ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-avx2}
  export ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-AVX2}
  svtk_mkl_isa=AVX2
  if [ "$svtk_isa" = pinned ] && grep -qw GenuineIntel /proc/cpuinfo \
      && grep -qw avx512f /proc/cpuinfo; then
    svtk_mkl_isa=AVX512
  fi
  export MKL_ENABLE_INSTRUCTIONS=${MKL_ENABLE_INSTRUCTIONS:-$svtk_mkl_isa}
fi

#!/usr/bin/env bash
# egs/mini: the embedded default recipe. It makes its own corpus with speech synthesis, so it
# runs on any machine with no download.
#
# Stages (svtk command in brackets):
#   0  check the environment                          [svtk check]
# Later stages (corpus synthesis, task cuts, tokenizer, encoder and LLM pre-training, latents,
# curriculum phases, decoding, scoring, report) are added as their commands land.
#
# Usage: egs/mini/run.sh [--stage N] [--stop-stage M]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

stage=0
stop_stage=100

help_message="Usage: $0 [--stage N] [--stop-stage M]"
. ../../bin/parse_options.sh
. ../../bin/log.sh
. ./path.sh

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  stage_banner 0 "check the environment"
  svtk check
fi

log "egs/mini: stages ${stage}..${stop_stage} done in ${SECONDS}s"

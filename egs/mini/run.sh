#!/usr/bin/env bash
# egs/mini: the embedded default recipe. It makes its own corpus with speech synthesis, so it
# runs on any machine with no download.
#
# Stages (svtk command in brackets):
#   0  check the environment                          [svtk check]
#   1  synthesise the corpus, lhotse manifests         [svtk data synth]
#   2  validate manifests, build task cuts             [svtk data validate, svtk data tasks]
# Later stages (tokenizer, encoder and LLM pre-training, latents, curriculum phases, decoding,
# scoring, report) are added as their commands land.
#
# Usage: egs/mini/run.sh [--stage N] [--stop-stage M]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

stage=0
stop_stage=100
nj=2              # parallel synthesis workers
hours=            # corpus size in hours (default: conf/synth.yaml)

help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--hours H]"
. ../../bin/parse_options.sh
. ../../bin/log.sh
. ./path.sh

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  stage_banner 0 "check the environment"
  svtk check
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  stage_banner 1 "synthesise the corpus"
  svtk data synth --config conf/synth.yaml --out-dir data --workers $nj ${hours:+--set hours=$hours}
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  stage_banner 2 "validate manifests, build task cuts"
  svtk data validate --data-dir data --corpus mini --max-skip-fraction 0.01
  svtk data tasks --config conf/tasks.yaml --data-dir data
fi

log "egs/mini: stages ${stage}..${stop_stage} done in ${SECONDS}s"

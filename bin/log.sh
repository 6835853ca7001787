#!/usr/bin/env bash
# Timestamped log lines and stage banners for recipes. Source it:  . bin/log.sh
#   log "message"          2026-01-01 12:00:00 (run.sh:42) message
#   stage_banner 3 "Train" ===== stage 3: Train ===== with the elapsed time of the recipe

log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${fname}:${BASH_LINENO[0]}) $*" >&2
}

stage_banner() {
  local n=$1; shift
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${fname}:${BASH_LINENO[0]}) ===== stage ${n}: $* (recipe time ${SECONDS}s) =====" >&2
}

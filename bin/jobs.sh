#!/usr/bin/env bash
# Independent recipe commands side by side, Kaldi-style: queue them, then run the queue, each
# job with its share of the CPU cores and its output in a log file. Source it after
# parse_options.sh (it reads $nj, the most jobs at once):
#
#   job exp/pretrain/log/ctc.log svtk train --phase encoder_ctc ...   # queue (nothing runs yet)
#   job exp/pretrain/log/lm.log  pretrain_lm                           # a shell function works too
#   job --after exp/pretrain/log/lm.log exp/pretrain/log/dec.log svtk decode ...  # once lm.log's
#   run_jobs                                                           # job succeeded; run, wait
#
# A job with --after LOG (repeatable) starts once the earlier job writing LOG has succeeded, and
# fails without running if it failed; a LOG no queued job writes counts as done. In the queue
# of svtk commands the free worker takes the first job that can start, so independent jobs
# queued later run meanwhile; shell jobs are started in queue order, a job with --after once
# every job before it has finished.
# One queued job runs in the foreground with every core, its output on the terminal, as if
# there were no queue. Two or more run at most $nj at a time, each with $(nproc)/$nj torch
# threads (OMP_NUM_THREADS), output in its LOG. Why: on a few CPU cores a small model's step
# does not use two threads well (measured on 2 cores: 1 thread 166 ms per CTC step, 2 threads
# 141 ms), so two single-threaded jobs finish sooner than the same two run one after the
# other. Threads are never oversubscribed: a 2-thread job beside a 1-thread job ran 4x slower.
# If a job fails, run_jobs waits for the others, shows the end of each failed log and exits 1.
# Interrupting the recipe (Ctrl-C, kill) stops the running jobs with it.
# A queue of svtk commands only goes to `svtk batch` (svtk/batch.py): $nj long-lived workers
# that run command after command, so that each worker imports torch, transformers, peft and
# lhotse once (~10 s per svtk process on 2 cores) instead of once per command.

_jobs_logs=()
_jobs_cmds=()
_jobs_after=()  # per job: its --after logs, each `printf %q`-quoted, space-separated

job() {
  local after=""
  while [ "${1:-}" = --after ]; do
    [ $# -ge 2 ] || break
    after+="$(printf '%q ' "$2")"
    shift 2
  done
  [ $# -ge 2 ] || { echo "job: usage: job [--after LOG]... LOG COMMAND [ARGS...]" >&2; return 2; }
  _jobs_logs+=("$1")
  _jobs_after+=("$after")
  shift
  _jobs_cmds+=("$(printf '%q ' "$@")")
}

_jobs_pids=()

_jobs_stop() {  # each job is its own process group (set -m): stop the whole group
  local pid
  for pid in "${_jobs_pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  echo "$(date '+%Y-%m-%d %H:%M:%S') (jobs.sh) interrupted: stopped the running jobs" >&2
  exit 130
}

_jobs_cores() {
  nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1
}

_jobs_all_svtk() {  # every queued command is an svtk command line (not a shell function)
  local cmd
  command -v svtk > /dev/null || return 1
  for cmd in "${_jobs_cmds[@]}"; do
    [[ $cmd == "svtk "* ]] || return 1
  done
}

_jobs_batch() {  # _jobs_batch WIDTH THREADS: the queue as one `svtk batch` command file
  local i file rc=0
  file=$(mktemp "${TMPDIR:-/tmp}/svtk-jobs.XXXXXX")
  for ((i = 0; i < ${#_jobs_cmds[@]}; i++)); do
    mkdir -p "$(dirname "${_jobs_logs[$i]}")"
    echo "    ${_jobs_logs[$i]}" >&2
    local deps=() dep
    eval "deps=(${_jobs_after[$i]})"
    for dep in ${deps[@]+"${deps[@]}"}; do printf 'after=%q ' "$dep" >> "$file"; done
    printf '%q %s\n' "${_jobs_logs[$i]}" "${_jobs_cmds[$i]}" >> "$file"
  done
  set -m
  svtk batch --jobs "$1" --threads "$2" "$file" &
  _jobs_pids=($!)
  set +m
  wait "${_jobs_pids[0]}" || rc=$?
  rm -f "$file"
  _jobs_logs=(); _jobs_cmds=(); _jobs_after=(); _jobs_pids=()
  if [ "$rc" -ne 0 ]; then
    echo "$(date '+%Y-%m-%d %H:%M:%S') (jobs.sh) svtk batch failed (exit $rc)" >&2
    exit 1
  fi
}

run_jobs() {
  local n=${#_jobs_cmds[@]} width=${nj:-1}
  if [ "$n" -eq 0 ]; then
    return 0
  fi
  if [ "$n" -eq 1 ] || [ "$width" -le 1 ]; then  # one at a time: the foreground, every core
    local i
    for ((i = 0; i < n; i++)); do  # in queue order: every --after job has run (or stopped us)
      eval "${_jobs_cmds[$i]}"
    done
    _jobs_logs=(); _jobs_cmds=(); _jobs_after=()
    return 0
  fi
  [ "$width" -gt "$n" ] && width=$n
  local threads=$(( $(_jobs_cores) / width ))
  [ "$threads" -ge 1 ] || threads=1
  echo "$(date '+%Y-%m-%d %H:%M:%S') (jobs.sh) $n jobs, $width at a time," \
       "$threads thread(s) each; logs:" >&2
  local i start=$SECONDS
  _jobs_pids=()
  trap _jobs_stop INT TERM
  if _jobs_all_svtk; then
    _jobs_batch "$width" "$threads"
    trap - INT TERM
    echo "$(date '+%Y-%m-%d %H:%M:%S') (jobs.sh) $n jobs done in $((SECONDS - start))s" >&2
    return 0
  fi
  local rcs=() j k deps dep blocked
  set -m  # job control: every job in its own process group, so that _jobs_stop reaches it all
  for ((i = 0; i < n; i++)); do
    if [ -n "${_jobs_after[$i]}" ]; then  # wait for every earlier job, then check its --after
      for ((j = 0; j < i; j++)); do
        [ -n "${rcs[$j]:-}" ] && continue
        rcs[$j]=0
        wait "${_jobs_pids[$j]}" || rcs[$j]=$?
      done
      eval "deps=(${_jobs_after[$i]})"
      blocked=""
      for dep in "${deps[@]}"; do
        for ((k = 0; k < i; k++)); do
          [ "${_jobs_logs[$k]}" = "$dep" ] && [ "${rcs[$k]}" -ne 0 ] && blocked=$dep
        done
      done
      if [ -n "$blocked" ]; then
        mkdir -p "$(dirname "${_jobs_logs[$i]}")"
        echo "not run: $blocked failed" > "${_jobs_logs[$i]}"
        rcs[$i]=1
        _jobs_pids+=("")
        continue
      fi
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$width" ]; do
      wait -n 2>/dev/null || true  # the status is collected below, per pid
    done
    mkdir -p "$(dirname "${_jobs_logs[$i]}")"
    echo "    ${_jobs_logs[$i]}" >&2
    ( export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
      eval "${_jobs_cmds[$i]}" ) > "${_jobs_logs[$i]}" 2>&1 &
    _jobs_pids+=($!)
  done
  set +m
  local failed=0 rc
  for ((i = 0; i < n; i++)); do
    rc=${rcs[$i]:-}
    if [ -z "$rc" ]; then
      rc=0
      wait "${_jobs_pids[$i]}" || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
      failed=$((failed + 1))
      echo "$(date '+%Y-%m-%d %H:%M:%S') (jobs.sh) FAILED (exit $rc): ${_jobs_cmds[$i]}" >&2
      echo "---- last lines of ${_jobs_logs[$i]} ----" >&2
      tail -n 30 "${_jobs_logs[$i]}" >&2
      echo "----" >&2
    fi
  done
  trap - INT TERM
  _jobs_logs=(); _jobs_cmds=(); _jobs_after=(); _jobs_pids=()
  if [ "$failed" -gt 0 ]; then
    echo "$(date '+%Y-%m-%d %H:%M:%S') (jobs.sh) $failed of $n jobs failed" >&2
    exit 1
  fi
  echo "$(date '+%Y-%m-%d %H:%M:%S') (jobs.sh) $n jobs done in $((SECONDS - start))s" >&2
}

#!/usr/bin/env bash
# Kaldi-style option parsing for recipes. Source it after defining the recipe's variables:
#
#   stage=0
#   stop_stage=100
#   hours=0.5
#   . bin/parse_options.sh     # now --stage 3 --stop-stage 5 --hours 2 set those variables
#
# Every variable defined before sourcing becomes an option: --foo-bar VALUE or --foo-bar=VALUE
# sets foo_bar. A boolean variable (value true/false) also takes a bare --foo (true) / --no-foo.
# Unknown options print the usage ($help_message, if the recipe defines it) and exit 1.
# --help prints the usage and the options with their current values, and exits 0.
# Positional arguments are left in "$@".

_svtk_usage() {
  [ -n "${help_message:-}" ] && printf '%s\n' "$help_message" >&2
  echo "Options (default values):" >&2
  local v
  for v in "${_svtk_opts[@]}"; do
    printf '  --%-20s %s\n' "${v//_/-}" "${!v}" >&2
  done
}

# The options are the shell variables the recipe set before sourcing (not the environment's).
mapfile -t _svtk_opts < <(compgen -v | while read -r _v; do
  case "$_v" in _*|BASH*|FUNCNAME|GROUPS|PIPESTATUS|OPTIND|OPTARG|OPTERR|PPID|UID|EUID|SHELLOPTS|\
    HOSTNAME|HOSTTYPE|MACHTYPE|OSTYPE|IFS|PS*|LINENO|RANDOM|SECONDS|SHLVL|COLUMNS|LINES|HIST*|\
    COMP*|DIRSTACK|EPOCH*|SRANDOM|help_message) continue;; esac
  declare -p "$_v" 2>/dev/null | grep -q '^declare -[^ ]*x' && continue  # exported: environment
  echo "$_v"
done)

_svtk_is_opt() {
  local v
  for v in "${_svtk_opts[@]}"; do [ "$v" = "$1" ] && return 0; done
  return 1
}

_svtk_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) _svtk_usage; exit 0 ;;
    --) shift; _svtk_args+=("$@"); break ;;
    --*=*) _name="${1%%=*}"; _name="${_name#--}"; _value="${1#*=}"; _have_value=1; shift ;;
    --*) _name="${1#--}"; _have_value=0; shift ;;
    *) _svtk_args+=("$1"); shift; continue ;;
  esac
  _var="${_name//-/_}"
  if ! _svtk_is_opt "$_var"; then
    # --no-foo for a boolean foo
    if [ "${_var#no_}" != "$_var" ] && _svtk_is_opt "${_var#no_}" && [ $_have_value -eq 0 ]; then
      printf -v "${_var#no_}" '%s' false; continue
    fi
    echo "$0: unknown option --$_name" >&2
    _svtk_usage
    exit 1
  fi
  if [ $_have_value -eq 0 ]; then
    if { [ "${!_var}" = true ] || [ "${!_var}" = false ]; } && { [ $# -eq 0 ] || { [ "$1" != true ] && [ "$1" != false ]; }; }; then
      printf -v "$_var" '%s' true; continue
    fi
    if [ $# -eq 0 ]; then
      echo "$0: option --$_name needs a value" >&2
      exit 1
    fi
    _value="$1"; shift
  fi
  printf -v "$_var" '%s' "$_value"
done
set -- "${_svtk_args[@]+"${_svtk_args[@]}"}"
unset _svtk_args _name _var _value _have_value _v
true

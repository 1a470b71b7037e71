#!/usr/bin/env bash
# Submits a qtmscan scan as a Slurm array job of NSHARDS shards (scan-array.sbatch) and a merge
# job (merge.sbatch) that starts once every shard succeeded, and prints their job ids.
#
#   submit.sh CONFIG NSHARDS [OUT] [-- SBATCH_OPTION...]
#
# OUT defaults to the config's output.path. Options after -- go to both sbatch calls (they beat
# the scripts' #SBATCH lines): --partition, --account, --time, --cpus-per-task, ...
# Environment: QTMSCAN (the qtmscan binary; default: the one in PATH), QTM_MERGE_OPTS (options
# for qtmscan merge, e.g. --virtual), QTM_RUN_OPTS (options for qtmscan run, e.g. '--set
# fixed.TR=0.1'; split at spaces), QTM_ARRAY_THROTTLE (at most this many shards at once).
# Output: one line 'ARRAY_JOB_ID MERGE_JOB_ID' on stdout; what was submitted on stderr.
# The config is checked (`qtmscan run --dry-run`) before anything is submitted. Shards already
# finished by an earlier submission of the same CONFIG, NSHARDS and OUT are kept (the shard jobs
# pass --resume), so submitting again after a failure redoes only what is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "submit: $*" >&2; exit 2; }
usage="usage: submit.sh CONFIG NSHARDS [OUT] [-- SBATCH_OPTION...]"

args=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
[ $# -gt 0 ] && shift    # the --; what is left goes to sbatch
sbatch_opts=("$@")
case ${args[0]:-} in -h|--help) echo "$usage"; exit 0 ;; esac
[ ${#args[@]} -ge 2 ] && [ ${#args[@]} -le 3 ] || fail "$usage"
config=${args[0]}
nshards=${args[1]}
out=${args[2]:-}

[ -f "$config" ] && [ -r "$config" ] || fail "cannot read config '$config'"
[[ $nshards =~ ^[1-9][0-9]*$ ]] || fail "NSHARDS must be a positive integer, got '$nshards'"
throttle=${QTM_ARRAY_THROTTLE:-}
[ -z "$throttle" ] || [[ $throttle =~ ^[1-9][0-9]*$ ]] ||
  fail "QTM_ARRAY_THROTTLE must be a positive integer, got '$throttle'"
for c in sbatch scontrol; do
  command -v "$c" >/dev/null || fail "$c not found: this needs a Slurm client (Debian: slurm-client)"
done
qtmscan=${QTMSCAN:-$(command -v qtmscan || true)}
[ -n "$qtmscan" ] || fail "qtmscan is not in PATH: set QTMSCAN=/path/to/qtmscan"
[ -x "$qtmscan" ] || fail "QTMSCAN=$qtmscan is not an executable file"
qtmscan=$(cd "$(dirname "$qtmscan")" && pwd)/$(basename "$qtmscan")
config=$(cd "$(dirname "$config")" && pwd)/$(basename "$config")

read -r -a run_opts <<<"${QTM_RUN_OPTS:-}"
read -r -a merge_opts <<<"${QTM_MERGE_OPTS:-}"

# Check the config here rather than in N failed jobs; it also names the output path.
dry=$("$qtmscan" run "$config" --dry-run "${run_opts[@]}" ${out:+-o "$out"} 2>&1) ||
  fail "qtmscan does not accept the scan:"$'\n'"$dry"
if [ -z "$out" ]; then
  out=$(sed -n 's/^output: *\(.*\), [0-9][0-9]* maps\{0,1\} of .*/\1/p; s/^output: *\([^,]*\)$/\1/p' <<<"$dry" | head -n 1)
  [ -n "$out" ] || fail "cannot tell the output path from 'qtmscan run --dry-run'; give OUT:"$'\n'"$dry"
fi
mkdir -p "$(dirname "$out")" || fail "cannot create the directory of '$out'"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
[ ! -e "$out" ] || fail "$out exists already: remove it or give another OUT"

echo "submit: $nshards shards of $config -> $out" >&2
array=$(sbatch --parsable --array=0-$((nshards - 1))${throttle:+%$throttle} --export=ALL,QTMSCAN="$qtmscan",QTM_NSHARDS="$nshards" \
          "${sbatch_opts[@]}" "$here/scan-array.sbatch" "$config" -o "$out" "${run_opts[@]}") ||
  fail "sbatch refused the array job (above)"
array=${array%%;*}
echo "submit: array job $array (logs: qtmscan-shard-${array}_K.out)" >&2
# If a shard fails, Slurm never runs the merge job, even after the shard is requeued and
# succeeds (22.05: the array keeps its failed mark): cancel it at once instead of leaving it
# pending forever; submitting again redoes only the missing shards and merges.
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes --export=ALL,QTMSCAN="$qtmscan",QTM_NSHARDS="$nshards" \
          "${sbatch_opts[@]}" "$here/merge.sbatch" "$out" "$nshards" "${merge_opts[@]}") || {
  echo "submit: sbatch refused the merge job (above); cancelling array job $array" >&2
  scancel "$array" || true
  exit 2
}
merge=${merge%%;*}
echo "submit: merge job $merge after array job $array succeeds (log: qtmscan-merge-$merge.out)" >&2
echo "$array $merge"

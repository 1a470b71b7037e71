#!/usr/bin/env bash
# End-to-end test of scripts/slurm on a single-node Slurm cluster (single-node-cluster.sh):
# submit.sh runs tests/slurm/array-test.yaml as an array job of 3 shards and a dependent merge
# job; shard 0 is interrupted the way the time limit does it (SIGUSR1 to the batch script),
# must requeue itself and finish with --resume; the merged file (and a --virtual merge of the
# same shards) must equal a single run of the config dataset for dataset (compare_h5.py).
# Prints every job's log and the timings.
#
#   run-array-and-merge.sh [QTMSCAN]     (default: $QTMSCAN, then build/qtmscan)
#
# Exit status: 0 passed, 1 failed, 77 skipped: not root, or slurm-wlm/munge/h5py missing.
# QTM_SLURM_TEST=1 makes those a failure instead, after installing the missing Debian packages
# with apt-get. QTM_SLURM_KEEP=1 keeps the work directory.
set -euo pipefail
# slurmd, slurmctld and munged live in /usr/sbin, which a non-login PATH may lack.
export PATH=$PATH:/usr/sbin:/sbin

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cluster=$here/single-node-cluster.sh
nshards=3
# Its own cluster directory and ports, apart from one started by hand (16817).
export QTM_SLURM_DIR=${QTM_SLURM_DIR:-/tmp/qtm-slurm-test}
export QTM_SLURM_PORT=${QTM_SLURM_PORT:-16827}
t0=$(date +%s)

log() { printf '[%4ds] %s\n' "$(($(date +%s) - t0))" "$*"; }
fail() { log "FAIL: $*"; exit 1; }
# Skip (77) unless QTM_SLURM_TEST=1 asks for the test to run whatever it takes.
skip_or_fail() {
  if [ "${QTM_SLURM_TEST:-0}" = 1 ]; then fail "$* (QTM_SLURM_TEST=1)"; fi
  log "SKIP: $* (QTM_SLURM_TEST=1: install what is missing and run, or fail)"
  exit 77
}

# --- inside the cluster: everything below runs under `single-node-cluster.sh run` -------------
if [ "${1:-}" = --in-cluster ]; then
  work=$2
  qtmscan=$3
  cd "$work"
  t0=$4

  # Prints JobState and ExitCode of one job (the first task's when given an array).
  job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
  # True while any of the given jobs (arrays included) is not finished.
  any_active() {
    local j
    for j in "$@"; do
      if scontrol show job "$j" 2>/dev/null | grep -qE 'JobState=(PENDING|RUNNING|REQUEUED|CONFIGURING|COMPLETING|SUSPENDED|RESIZING|REQUEUE_HOLD|REQUEUE_FED)'; then
        return 0
      fi
    done
    return 1
  }

  log "cluster: $(sinfo -h -N -o '%N %T CPUs=%c Mem=%mMB')"
  log "submit: $root/scripts/slurm/submit.sh array-test.yaml $nshards $work/merged.h5"
  ids=$(QTMSCAN=$qtmscan "$root/scripts/slurm/submit.sh" array-test.yaml "$nshards" "$work/merged.h5") ||
    fail "submit.sh failed"
  read -r array merge <<<"$ids"
  log "submitted: array job $array, merge job $merge"

  # The time limit's warning, by hand: SIGUSR1 to shard 0's batch script as soon as qtmscan runs.
  shard0_log=qtmscan-shard-${array}_0.out
  # Once qtmscan has created the shard's partial file it catches SIGTERM.
  for ((i = 0; i < 600; i++)); do
    [ -e merged.shard-0-of-$nshards.h5.partial ] && break
    sleep 0.1
  done
  [ -e merged.shard-0-of-$nshards.h5.partial ] || { cat "$shard0_log"; fail "shard 0 did not start within 60 s"; }
  log "sending SIGUSR1 (as --signal=B:USR1@120 does before the time limit) to ${array}_0"
  scancel --batch --signal=USR1 "${array}_0" || fail "scancel --signal=USR1 ${array}_0 failed"
  for ((i = 0; i < 600; i++)); do
    # The script's last word: requeued, or why not.
    grep -qE 'requeued job|requeue .* failed|not requeueing|stopped by a signal' "$shard0_log" 2>/dev/null && break
    grep -q 'qtmscan exited with status 0' "$shard0_log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q 'requeued job' "$shard0_log" ||
    { cat "$shard0_log"; fail "shard 0 did not requeue itself (finished before the signal? then the test scan is too small)"; }
  # The cluster holds a requeued job for 11 s (cred_expire=10; Slurm's default is 121 s).
  log "shard 0 requeued itself; Slurm starts it again after its requeue hold"
  log "waiting for array job $array and merge job $merge (scontrol show job, every 2 s)"
  for ((i = 0; i < 300; i++)); do
    any_active "$array" "$merge" || break
    sleep 2
  done
  any_active "$array" "$merge" && { squeue; fail "jobs still running after 600 s"; }
  log "all jobs finished"

  bad=0
  echo "=== job summary ==="
  for j in "${array}_0" "${array}_1" "${array}_2" "$merge"; do
    scontrol show job "$j" | tr ' ' '\n' |
      grep -E '^(JobId|ArrayTaskId|JobName|JobState|ExitCode|Restarts|SubmitTime|StartTime|EndTime|RunTime)=' |
      paste -sd ' '
    [ "$(job_field "$j" JobState)" = COMPLETED ] && [ "$(job_field "$j" ExitCode)" = 0:0 ] || bad=1
  done
  for f in qtmscan-shard-"${array}"_*.out qtmscan-merge-"$merge".out; do
    echo "=== $f ==="
    cat "$f"
  done
  echo "=== end of job logs ==="
  [ "$bad" = 0 ] || fail "a job did not complete with exit code 0"
  [ "$(job_field "${array}_0" Restarts)" -ge 1 ] || fail "shard 0 shows no restart"
  grep -q 'resuming' "$shard0_log" || fail "shard 0's second run did not resume its partial file"
  [ -f merged.h5 ] || fail "no merged.h5"
  exit 0
fi

# --- outside: prerequisites, the single-run reference, the cluster, the checks ---------------
qtmscan=${1:-${QTMSCAN:-$root/build/qtmscan}}
[ -x "$qtmscan" ] || fail "no qtmscan at '$qtmscan' (pass it as the argument)"
qtmscan=$(cd "$(dirname "$qtmscan")" && pwd)/$(basename "$qtmscan")
"$qtmscan" merge --help >/dev/null 2>&1 || fail "$qtmscan has no working 'merge' command"
"$qtmscan" run --help 2>&1 | grep -q -- '--shard' || fail "$qtmscan run has no --shard"

[ "$(id -u)" -eq 0 ] || skip_or_fail "needs root to run slurmd and munged"
need=()
for c in munged slurmctld slurmd sbatch; do command -v "$c" >/dev/null 2>&1 || need=(slurm-wlm munge); done
/usr/bin/python3 -c 'import h5py' 2>/dev/null || need+=(python3-h5py)
if [ ${#need[@]} -gt 0 ]; then
  [ "${QTM_SLURM_TEST:-0}" = 1 ] || skip_or_fail "missing Debian packages: ${need[*]}"
  log "installing ${need[*]} (apt-get, QTM_SLURM_TEST=1)"
  s=$SECONDS
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  log "installed in $((SECONDS - s)) s"
fi

work=$(mktemp -d /tmp/qtm-slurm-e2e.XXXXXX)
chmod 755 "$work"
cleanup() {
  if [ "${QTM_SLURM_KEEP:-0}" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
cp "$here/array-test.yaml" "$work/"
cd "$work"
log "qtmscan: $qtmscan; work directory: $work"

# Arguments are checked before anything is submitted (no cluster needed for these).
for bad in "array-test.yaml 0" "array-test.yaml x" "missing.yaml 3" "array-test.yaml"; do
  # shellcheck disable=SC2086
  if out=$(QTMSCAN=$qtmscan PATH=$PATH "$root/scripts/slurm/submit.sh" $bad 2>&1); then
    fail "submit.sh $bad was accepted"
  fi
  log "submit.sh $bad refused: $(head -n 1 <<<"$out")"
done

log "reference: qtmscan run array-test.yaml -o single.h5 (one process, 2 threads)"
s=$SECONDS
"$qtmscan" run array-test.yaml -o single.h5 --threads 2 --quiet 2>&1 | grep -v '^qtmscan: backend auto' || true
[ -f single.h5 ] || fail "the single run wrote no single.h5"
log "reference done in $((SECONDS - s)) s"

s=$SECONDS
"$cluster" run "$here/$(basename "$0")" --in-cluster "$work" "$qtmscan" "$t0" || fail "the array and merge jobs (above)"
log "cluster part done in $((SECONDS - s)) s (cluster start and stop included)"

shards=(merged.shard-*-of-$nshards.h5)
[ ${#shards[@]} -eq "$nshards" ] || fail "expected $nshards shard files, found: ${shards[*]}"
log "shard files: ${shards[*]}"
"$qtmscan" merge virtual.h5 "${shards[@]}" --virtual --quiet || fail "qtmscan merge --virtual failed"

rc=0
/usr/bin/python3 "$here/compare_h5.py" single.h5 merged.h5 || rc=1
/usr/bin/python3 "$here/compare_h5.py" single.h5 virtual.h5 || rc=1
[ "$rc" = 0 ] || fail "the merged files differ from the single run"
log "PASS: array of $nshards shards (one interrupted and requeued) + merge job = single run; total $(($(date +%s) - t0)) s"

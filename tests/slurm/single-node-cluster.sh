#!/usr/bin/env bash
# A throw-away single-node Slurm cluster on this machine (slurmctld + slurmd + a private munged,
# all on 127.0.0.1), for testing qtmscan's job scripts. Everything lives under one directory
# ($QTM_SLURM_DIR, default /tmp/qtm-slurm): munge key and socket, slurm.conf, state, spool, logs.
# Nothing in /etc is touched and no systemd, cgroups or accounting database is needed.
#
#   single-node-cluster.sh run CMD [ARG...]  start the cluster if it is not up, run CMD with
#                                            SLURM_CONF exported, stop on exit what this call
#                                            started (trap), exit with CMD's status
#   single-node-cluster.sh start             start it and leave it up (prints SLURM_CONF)
#   single-node-cluster.sh stop              stop the daemons of $QTM_SLURM_DIR
#   single-node-cluster.sh status            say whether they run; sinfo when they do
#   single-node-cluster.sh env               print 'export SLURM_CONF=...'
#
# Idempotent: start on a running cluster does nothing; the munge key is kept between starts, the
# jobs are not (stop cancels them, a new start forgets them). Needs root (slurmd launches jobs as the submitting user) and the Debian
# packages slurm-wlm and munge (apt-get install --no-install-recommends slurm-wlm munge).
# Environment: QTM_SLURM_DIR, QTM_SLURM_PORT (slurmctld's port, default 16817; slurmd takes the
# next one: not Slurm's own 6817/6818, so that a real Slurm on the machine is left alone).
# Exit status: 0 ok, 1 failure, 77 (start/run) when root or the packages are missing.
set -euo pipefail
# The daemons live in /usr/sbin, which a non-login PATH may lack.
export PATH=$PATH:/usr/sbin:/sbin

dir=${QTM_SLURM_DIR:-/tmp/qtm-slurm}
port=${QTM_SLURM_PORT:-16817}
conf=$dir/etc/slurm.conf
me=single-node-cluster

say() { echo "$me: $*" >&2; }
die() { say "$*"; exit 1; }

# Exit 77 (the skip status of ctest and automake) when this machine cannot host the cluster.
check_prerequisites() {
  if [ "$(id -u)" -ne 0 ]; then
    say "needs root (slurmd starts jobs as the submitting user); run with sudo"
    exit 77
  fi
  local missing=() c
  for c in munged munge slurmctld slurmd sbatch scontrol squeue sinfo; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "missing ${missing[*]}: apt-get install --no-install-recommends slurm-wlm munge"
    exit 77
  fi
  case $port in
    ''|*[!0-9]*) die "QTM_SLURM_PORT must be a port number, got '$port'" ;;
  esac
  [ "$port" -ge 1024 ] && [ "$port" -le 65534 ] || die "QTM_SLURM_PORT must be 1024..65534, got $port"
}

# True when the process in pid file $1 is alive.
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

munge_up() { pid_alive "$dir/run/munged.pid"; }
ctld_up() { pid_alive "$dir/run/slurmctld.pid"; }
slurmd_up() { pid_alive "$dir/run/slurmd.pid"; }

start_munge() {
  munge_up && return 0
  # munged insists: key readable by its user only, socket directory searchable by everyone.
  mkdir -p "$dir/munge" "$dir/run" "$dir/log"
  chmod 700 "$dir/munge"
  chmod 755 "$dir" "$dir/run"
  if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  fi
  chmod 400 "$dir/munge/munge.key"
  rm -f "$dir/run/munge.socket" "$dir/run/munge.socket.lock"
  # As root with its own key and socket: the system's munge service (if any) is not touched.
  munged --key-file="$dir/munge/munge.key" --socket="$dir/run/munge.socket" \
         --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
         --seed-file="$dir/munge/munged.seed" ||
    die "munged did not start; see $dir/log/munged.log"
  munge -S "$dir/run/munge.socket" -n | unmunge -S "$dir/run/munge.socket" >/dev/null ||
    die "munge does not round-trip a credential; see $dir/log/munged.log"
}

write_conf() {
  local host node cpus mem
  host=$(hostname -s)
  # What slurmd sees (CPUs, RealMemory): a node configured with more is drained as invalid.
  node=$(slurmd -C | head -n 1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
  mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  [ -n "$cpus" ] && [ -n "$mem" ] || die "cannot read CPUs and RealMemory from 'slurmd -C': $node"
  mkdir -p "$dir/etc" "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
  cat >"$conf.new" <<EOF
# Written by $me; regenerated on every start while the cluster is down.
ClusterName=qtmtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: Slurm holds a requeued job for this + 1 s (default 120) so that the revoked
# credential of its last run has expired; a test wants requeued jobs back quickly.
AuthInfo=socket=$dir/run/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups (containers often lack a writable cgroup tree) and no accounting database.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
# Finished jobs stay visible to 'scontrol show job' (and requeueable) for 20 minutes.
MinJobAge=1200
KillWait=30
SchedulerType=sched/backfill
# Jobs held (requeued, dependencies) are looked at every 2 s rather than 60.
SchedulerParameters=bf_interval=2,sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  mv -f "$conf.new" "$conf"
}

# Wait up to $1 seconds for the node to be usable (idle, mixed or allocated).
wait_node() {
  local i state
  for ((i = 0; i < $1 * 2; i++)); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
    case $state in
      idle*|mixed*|allocated*|completing*) return 0 ;;
    esac
    sleep 0.5
  done
  say "node not ready after $1 s (state '${state:-none}'); logs: $dir/log"
  tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  return 1
}

# Sets started=1 when this call started any daemon.
started=0
start() {
  check_prerequisites
  export SLURM_CONF=$conf
  if munge_up && ctld_up && slurmd_up; then
    wait_node 30
    return
  fi
  started=1
  start_munge
  if ! ctld_up && ! slurmd_up; then
    write_conf
  fi
  [ -s "$conf" ] || die "no $conf"
  if ! ctld_up; then
    # -c: forget the jobs and node states of an earlier start: their processes are gone, and a
    # job left 'completing' by a killed run would hold the node's CPUs.
    slurmctld -c -i || die "slurmctld did not start; see $dir/log/slurmctld.log"
  fi
  if ! slurmd_up; then
    rm -rf "${dir:?}/spool"
    mkdir -p "$dir/spool"
    slurmd || die "slurmd did not start; see $dir/log/slurmd.log"
  fi
  wait_node 30
  # A node left DOWN or DRAIN by an earlier, killed run comes back here.
  case $(sinfo -h -N -o '%T' | head -n 1) in
    down*|drain*) scontrol update nodename="$(hostname -s)" state=resume ;;
  esac
  say "up: slurmctld on 127.0.0.1:$port, slurmd on :$((port + 1)), logs in $dir/log"
}

stop_pid() {
  local file=$1 name=$2 pid i
  pid_alive "$file" || return 0
  pid=$(cat "$file")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$file"; return 0; }
    sleep 0.25
  done
  say "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$file"
}

# Cancels every job and waits (up to 40 s) for them to end: stopping slurmd would leave their
# processes running.
cancel_jobs() {
  local i
  ctld_up || return 0
  SLURM_CONF=$conf scancel --quiet --user=root --full 2>/dev/null || true
  SLURM_CONF=$conf scancel --quiet --full $(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null) 2>/dev/null || true
  for ((i = 0; i < 80; i++)); do
    [ -z "$(SLURM_CONF=$conf squeue -h -t R,CG,S 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  say "jobs still running after 40 s:"
  SLURM_CONF=$conf squeue >&2 || true
}

stop() {
  cancel_jobs
  # slurmd first so that it does not keep retrying a gone controller; each by its own pid file.
  stop_pid "$dir/run/slurmd.pid" slurmd
  stop_pid "$dir/run/slurmctld.pid" slurmctld
  stop_pid "$dir/run/munged.pid" munged
  say "stopped (logs kept in $dir/log)"
}

status() {
  local d
  for d in munged slurmctld slurmd; do
    if pid_alive "$dir/run/$d.pid"; then echo "$d: running (pid $(cat "$dir/run/$d.pid"))"
    else echo "$d: not running"; fi
  done
  if ctld_up; then SLURM_CONF=$conf sinfo; fi
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

case ${1:-} in
  run)
    shift
    [ $# -gt 0 ] || die "run needs a command, e.g.: $0 run sbatch --wrap hostname"
    start
    if [ "$started" = 1 ]; then trap stop EXIT; fi
    trap 'exit 130' INT
    trap 'exit 143' TERM
    rc=0
    "$@" || rc=$?
    exit "$rc"
    ;;
  start) start; echo "export SLURM_CONF=$conf" ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$conf" ;;
  -h|--help|help) usage ;;
  *) say "unknown command '${1:-}'"; usage ;;
esac

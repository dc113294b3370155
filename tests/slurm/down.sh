#!/bin/bash
# Stop the local SLURM cluster started by up.sh: kills only the PIDs recorded under $R/run.
# Keeps $R (logs, jobcomp.txt, munge key) for inspection; rm -rf "$R" to start from nothing.
set -uo pipefail
R=${R:-/tmp/slurm_local}
[ -d "$R" ] || exit 0
R=$(cd "$R" && pwd -P)
for d in slurmd slurmctld munged; do
  f=$R/run/$d.bgpid
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$d" ]; then
    kill "$pid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; sleep 0.2; fi
    echo "stopped $d ($pid)"
  fi
  rm -f "$f"
done
# the /etc/slurm/slurm.conf link is ours only if it points into $R
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$R/etc/slurm.conf" ]; then
  rm -f /etc/slurm/slurm.conf
fi
exit 0

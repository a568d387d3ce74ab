#!/usr/bin/env bash
# A real Slurm cluster on this one machine (slurmctld, two slurmd, slurmdbd + MariaDB, munge) for
# rcstudio's tests, benchmarks and CI. Runs as root without systemd; idempotent.
#
#   bash slurm/cluster.sh install   # Debian packages, only when missing
#   bash slurm/cluster.sh start     # install if needed, write configs, start daemons, wait until ready
#   bash slurm/cluster.sh stop      # stop the daemons this script started (by pid file)
#   bash slurm/cluster.sh status    # daemons, sinfo, sacct
#
# Environment: RCSTUDIO_SLURM_CPUS (8 per node), RCSTUDIO_SLURM_MEM_MB (65536 per node),
# RCSTUDIO_SLURM_PARTITION (debug), RCSTUDIO_SLURM_CLUSTER (rcstudio). Two slurmd run on this one
# machine (nodes `$(hostname -s)` and `$(hostname -s)-2`: Slurm never plans two hetjob components on
# one node) and advertise CPUS/MEM even when the machine is smaller (SlurmdParameters=
# config_overrides), so 2-group hetjobs and 4-task arrays fit on 2 cores.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONF_DIR=/etc/slurm
STATE=/var/spool/rcstudio-slurm
RUN=/run/rcstudio-slurm
LOG=/var/log/rcstudio-slurm
CLUSTER="${RCSTUDIO_SLURM_CLUSTER:-rcstudio}"
PARTITION="${RCSTUDIO_SLURM_PARTITION:-debug}"
CPUS="${RCSTUDIO_SLURM_CPUS:-8}"
MEM="${RCSTUDIO_SLURM_MEM_MB:-65536}"
NODE="$(hostname -s)"
NODES=("$NODE" "$NODE-2")
ACCOUNT=rcstudio
PACKAGES=(slurm-wlm slurmdbd mariadb-server munge)

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts system daemons)"; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
    local timeout=$1 what=$2; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { log "timed out waiting for $what"; return 1; }
        sleep 0.2
    done
}

alive() { local pidfile=$1; [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

cmd_install() {
    need_root
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurm-wlm)
    command -v slurmdbd >/dev/null || missing+=(slurmdbd)
    command -v mariadbd >/dev/null || command -v mysqld >/dev/null || missing+=(mariadb-server)
    command -v munged >/dev/null || missing+=(munge)
    if [ ${#missing[@]} -eq 0 ]; then
        log "packages present: ${PACKAGES[*]}"
        return 0
    fi
    log "installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${PACKAGES[@]}" </dev/null
}

# render TEMPLATE DEST MODE: substitute @VARS@; rewrite only when the content changes.
render() {
    local tmpl=$1 dest=$2 mode=$3 tmp
    tmp="$(mktemp)"
    sed -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@NODE@|$NODE|g" -e "s|@CPUS@|$CPUS|g" \
        -e "s|@MEM@|$MEM|g" -e "s|@PARTITION@|$PARTITION|g" -e "s|@STATE@|$STATE|g" \
        -e "s|@RUN@|$RUN|g" -e "s|@LOG@|$LOG|g" -e "s|@DBPASS@|$DBPASS|g" "$tmpl" >"$tmp"
    if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
    else
        install -m "$mode" -o root -g root "$tmp" "$dest"
        rm -f "$tmp"
        CONFIG_CHANGED=1
    fi
}

write_configs() {
    mkdir -p "$CONF_DIR" "$STATE/slurmctld" "$STATE/slurmd-$NODE" "$STATE/slurmd-$NODE-2" "$RUN" "$LOG"
    chmod 700 "$STATE"
    # The accounting database password is local to this machine; generated once, kept root-only.
    if [ ! -s "$STATE/dbpass" ]; then
        (umask 077; head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$STATE/dbpass")
    fi
    DBPASS="$(cat "$STATE/dbpass")"
    CONFIG_CHANGED=0
    render "$HERE/conf/slurm.conf.in" "$CONF_DIR/slurm.conf" 644
    render "$HERE/conf/cgroup.conf.in" "$CONF_DIR/cgroup.conf" 644
    render "$HERE/conf/slurmdbd.conf.in" "$CONF_DIR/slurmdbd.conf" 600
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    log "starting munged"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    runuser -u munge -- /usr/sbin/munged --force
    wait_for 20 munge sh -c 'munge -n | unmunge'
}

start_mariadb() {
    if mariadb-admin ping >/dev/null 2>&1; then :; else
        log "starting MariaDB"
        mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
        if [ ! -d /var/lib/mysql/mysql ]; then
            mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
        fi
        (setsid mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
            >>"$LOG/mariadb.log" 2>&1 </dev/null &)
        wait_for 60 MariaDB mariadb-admin ping
    fi
    # Idempotent: database, user (password follows the generated one), grants.
    mariadb <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL
}

start_daemon() {  # start_daemon NAME PIDFILE COMMAND...
    local name=$1 pidfile=$2 pid; shift 2
    if alive "$pidfile"; then
        if [ "$CONFIG_CHANGED" = 1 ]; then
            log "restarting $name (configuration changed)"
            pid="$(cat "$pidfile")"
            kill "$pid"; wait_for 20 "$name to stop" sh -c "! kill -0 $pid"
        else
            return 0
        fi
    fi
    log "starting $name"
    "$@"
    wait_for 30 "$name pid file" alive "$pidfile"
}

node_ready() {  # every node up (idle or busy), none down/drained/unknown
    local states
    states="$(sinfo -h -N -o '%T' 2>/dev/null)" || return 1
    [ "$(grep -cE '^(idle|mixed|allocated|completing|planned)' <<<"$states")" -eq ${#NODES[@]} ]
}
acct_ready() { sacct -n -X -S now >/dev/null 2>&1 && sacctmgr -n show cluster "$CLUSTER" format=cluster 2>/dev/null | grep -q "$CLUSTER"; }

cluster_ready() { node_ready && acct_ready; }

cmd_start() {
    need_root
    cmd_install
    write_configs
    if [ "$CONFIG_CHANGED" = 0 ] && alive "$RUN/slurmctld.pid" && alive "$RUN/slurmd-$NODE.pid" \
        && alive "$RUN/slurmd-$NODE-2.pid" && alive "$RUN/slurmdbd.pid" && cluster_ready; then
        log "already running: nodes ${NODES[*]} up, accounting answers"
        return 0
    fi
    start_munge
    start_mariadb
    start_daemon slurmdbd "$RUN/slurmdbd.pid" slurmdbd
    wait_for 60 "slurmdbd to answer" sacctmgr -n show cluster
    if ! sacctmgr -n show cluster "$CLUSTER" format=cluster | grep -q "$CLUSTER"; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null
    fi
    start_daemon slurmctld "$RUN/slurmctld.pid" slurmctld
    local n
    for n in "${NODES[@]}"; do start_daemon "slurmd $n" "$RUN/slurmd-$n.pid" slurmd -N "$n"; done
    if ! sacctmgr -n show account "$ACCOUNT" format=account | grep -q "$ACCOUNT"; then
        sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description=rcstudio organization=rcstudio >/dev/null
    fi
    if ! sacctmgr -n show assoc user=root account="$ACCOUNT" format=user | grep -q root; then
        sacctmgr -i add user root account="$ACCOUNT" cluster="$CLUSTER" >/dev/null
    fi
    # A node left DOWN/DRAINED by an earlier run comes back.
    for n in "${NODES[@]}"; do
        if sinfo -h -n "$n" -o '%T' | grep -Eq 'down|drain'; then
            scontrol update nodename="$n" state=resume >/dev/null 2>&1 || true
        fi
    done
    wait_for 90 "nodes up and sacct answering" cluster_ready || {
        tail -n 20 "$LOG/slurmctld.log" "$LOG"/slurmd-*.log >&2 || true
        die "cluster did not become ready"
    }
    log "ready: nodes ${NODES[*]} ($CPUS CPUs each advertised), partition $PARTITION, cluster $CLUSTER"
}

stop_pidfile() {  # stop_pidfile NAME PIDFILE
    local name=$1 pidfile=$2 pid
    alive "$pidfile" || return 0
    pid="$(cat "$pidfile")"
    log "stopping $name ($pid)"
    kill "$pid" 2>/dev/null || true
    wait_for 30 "$name to stop" sh -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
}

cmd_stop() {
    need_root
    local n
    for n in "${NODES[@]}"; do stop_pidfile "slurmd $n" "$RUN/slurmd-$n.pid"; done
    stop_pidfile slurmd "$RUN/slurmd.pid"  # single-node layout of older versions
    stop_pidfile slurmctld "$RUN/slurmctld.pid"
    stop_pidfile slurmdbd "$RUN/slurmdbd.pid"
    stop_pidfile MariaDB /run/mysqld/mysqld.pid
    stop_pidfile munged /run/munge/munged.pid
    log "stopped"
}

cmd_status() {
    local name pidfile rc=0
    for name in munged:/run/munge/munged.pid mariadb:/run/mysqld/mysqld.pid \
        slurmdbd:$RUN/slurmdbd.pid slurmctld:$RUN/slurmctld.pid "slurmd $NODE:$RUN/slurmd-$NODE.pid" \
        "slurmd $NODE-2:$RUN/slurmd-$NODE-2.pid"; do
        pidfile=${name#*:}
        if alive "$pidfile"; then echo "${name%%:*}: running (pid $(cat "$pidfile"))"
        else echo "${name%%:*}: stopped"; rc=1; fi
    done
    sinfo 2>/dev/null || rc=1
    cluster_ready && echo "ready" || { echo "not ready"; rc=1; }
    return $rc
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 {install|start|stop|status}" >&2; exit 2 ;;
esac

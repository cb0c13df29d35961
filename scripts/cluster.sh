#!/usr/bin/env bash
# The playground's cluster mode on this machine, for a local try:
#   scripts/cluster.sh start    Redis, PostgreSQL, 2 web nodes, 2 training workers and nginx in front,
#                               all on 127.0.0.1 (free ports), then prints the address to open
#   scripts/cluster.sh status   what runs, with its pid and port
#   scripts/cluster.sh stop     stops them all, removes the data (the logs stay)
#
# The web nodes and workers are `python -m server --broker URL --db URL` and
# `python -m server.worker --broker URL --db URL --concurrency 1` (the cluster mode's commands).
#
# Everything lives in one run folder (CLUSTER_DIR, default /tmp/playground-cluster): pid files,
# ports.env, logs/, and the data of Redis and PostgreSQL. PostgreSQL refuses to run as root, so
# as root it runs as the `postgres` user. Settings (environment):
#   CLUSTER_DIR   the run folder                      PYTHON       the interpreter (default: .venv's)
#   PORT          nginx's port (default: a free one)  PG_BIN       PostgreSQL's programs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=${CLUSTER_DIR:-/tmp/playground-cluster}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [[ -z ${PYTHON:-} ]]; then
    if [[ -x $ROOT/.venv/bin/python ]]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi
WEB_NODES=(web1 web2)
WORKERS=(worker1 worker2)

say() { printf '%s\n' "$*"; }
die() { printf 'cluster.sh: %s\n' "$*" >&2; exit 1; }

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {  # wait_port PORT NAME [PID]: until something accepts on 127.0.0.1:PORT
    local port=$1 name=$2 pid=${3:-} i
    for ((i = 0; i < 300; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            die "$name exited before it listened on port $port; see $RUN/logs/$name.log"
        fi
        sleep 0.1
    done
    die "$name does not listen on port $port after 30 s; see $RUN/logs/$name.log"
}

as_postgres() {  # PostgreSQL's programs, as the postgres user when we are root
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

alive() { [[ -f $RUN/$1.pid ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start_background() {  # start_background NAME COMMAND...: detached, its pid in NAME.pid, output in logs/
    local name=$1; shift
    setsid "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

check_checkout() {
    command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
    command -v nginx >/dev/null || die "nginx is not installed (apt-get install nginx)"
    [[ -x $PG_BIN/postgres ]] || die "PostgreSQL is not in $PG_BIN (apt-get install postgresql, or set PG_BIN)"
    (cd "$ROOT" && "$PYTHON" -m server --help 2>/dev/null | grep -q -- --broker) \
        || die "python -m server has no --broker in this checkout: cluster mode is not there"
    (cd "$ROOT" && "$PYTHON" -c 'import server.worker' 2>/dev/null) \
        || die "server.worker cannot be imported in this checkout: the training workers are not there"
}

start() {
    if [[ -f $RUN/ports.env ]]; then die "already started in $RUN (scripts/cluster.sh status, or stop)"; fi
    check_checkout
    rm -rf "$RUN/nginx/logs"  # of an earlier try
    mkdir -p "$RUN/logs" "$RUN/redis" "$RUN/nginx/logs" "$RUN/nginx/temp"
    local redis_port pg_port nginx_port web_ports=() n
    redis_port=$(free_port); pg_port=$(free_port)
    nginx_port=${PORT:-$(free_port)}
    for n in "${WEB_NODES[@]}"; do web_ports+=("$(free_port)"); done
    local broker="redis://127.0.0.1:$redis_port/0"
    local db="postgresql://postgres@127.0.0.1:$pg_port/playground"
    {
        echo "REDIS_PORT=$redis_port"; echo "PG_PORT=$pg_port"; echo "NGINX_PORT=$nginx_port"
        echo "WEB_PORTS=\"${web_ports[*]}\""; echo "BROKER=$broker"; echo "DB=$db"
    } >"$RUN/ports.env"

    say "redis      127.0.0.1:$redis_port"
    redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$RUN/redis" \
        --daemonize yes --pidfile "$RUN/redis.pid" --logfile "$RUN/logs/redis.log"
    wait_port "$redis_port" redis

    say "postgres   127.0.0.1:$pg_port"
    mkdir -p "$RUN/pg"
    touch "$RUN/logs/postgres.log"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "$RUN/pg" "$RUN/logs/postgres.log"
        chmod 755 "$RUN"
    fi
    as_postgres "$PG_BIN/initdb" -D "$RUN/pg/data" -U postgres --auth=trust -E UTF8 --no-instructions \
        >"$RUN/logs/initdb.log" 2>&1 || die "initdb failed; see $RUN/logs/initdb.log"
    as_postgres "$PG_BIN/pg_ctl" -D "$RUN/pg/data" -l "$RUN/logs/postgres.log" -w -t 30 \
        -o "-p $pg_port -h 127.0.0.1 -k $RUN/pg -c max_connections=200" start >/dev/null \
        || die "PostgreSQL did not start; see $RUN/logs/postgres.log"
    head -1 "$RUN/pg/data/postmaster.pid" >"$RUN/postgres.pid"
    as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres playground

    local origins="http://127.0.0.1:$nginx_port,http://localhost:$nginx_port" i
    for i in "${!WEB_NODES[@]}"; do
        say "${WEB_NODES[$i]}       127.0.0.1:${web_ports[$i]}"
        (cd "$ROOT" && PLAYGROUND_TRUSTED_PROXIES=1 PLAYGROUND_ALLOWED_ORIGINS=$origins \
            start_background "${WEB_NODES[$i]}" "$PYTHON" -m server --host 127.0.0.1 \
            --port "${web_ports[$i]}" --broker "$broker" --db "$db")
    done
    for n in "${WORKERS[@]}"; do
        say "$n    (trains runs from the broker)"
        (cd "$ROOT" && OPENBLAS_NUM_THREADS=1 start_background "$n" "$PYTHON" -m server.worker \
            --broker "$broker" --db "$db" --concurrency 1)
    done
    for i in "${!WEB_NODES[@]}"; do
        wait_port "${web_ports[$i]}" "${WEB_NODES[$i]}" "$(cat "$RUN/${WEB_NODES[$i]}.pid")"
    done

    say "nginx      127.0.0.1:$nginx_port"
    local servers="" port
    for port in "${web_ports[@]}"; do servers+="server 127.0.0.1:$port; "; done
    sed -e "s|{listen}|127.0.0.1:$nginx_port|" -e "s|{web_nodes}|$servers|" -e "s|{prefix}|$RUN/nginx|g" \
        "$ROOT/deploy/nginx.conf" >"$RUN/nginx/nginx.conf"
    # Its workers run as nobody when it starts as root: they write the buffered request bodies.
    if [[ $(id -u) -eq 0 ]]; then chown nobody "$RUN/nginx/temp"; fi
    nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/nginx/logs/error.log" \
        || die "nginx did not start; see $RUN/nginx/logs/error.log"
    cp "$RUN/nginx/nginx.pid" "$RUN/nginx.pid"
    wait_port "$nginx_port" nginx
    say ""
    say "Open http://127.0.0.1:$nginx_port   (scripts/cluster.sh status | stop; logs in $RUN/logs)"
}

status() {
    [[ -f $RUN/ports.env ]] || { say "not started ($RUN has no ports.env)"; return 1; }
    # shellcheck disable=SC1091
    source "$RUN/ports.env"
    local web_ports=($WEB_PORTS) name down=0 i
    printf '%-9s %-8s %-6s %s\n' name pid state address
    for name in redis postgres "${WEB_NODES[@]}" "${WORKERS[@]}" nginx; do
        local address="" pid="-" state=down
        case $name in
            redis) address=127.0.0.1:$REDIS_PORT ;;
            postgres) address=127.0.0.1:$PG_PORT ;;
            nginx) address=http://127.0.0.1:$NGINX_PORT ;;
            web*) i=${name#web}; address=127.0.0.1:${web_ports[$((i - 1))]} ;;
        esac
        [[ -f $RUN/$name.pid ]] && pid=$(cat "$RUN/$name.pid")
        if alive "$name"; then state=up; else down=$((down + 1)); fi
        printf '%-9s %-8s %-6s %s\n' "$name" "$pid" "$state" "$address"
    done
    return $((down > 0))
}

stop_one() {  # stop_one NAME SIGNAL: signal its pid, wait up to 20 s, then SIGKILL
    local name=$1 sig=$2 pid i
    [[ -f $RUN/$name.pid ]] || return 0
    pid=$(cat "$RUN/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name ($pid) did not stop on SIG$sig in 20 s: killed"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$RUN/$name.pid"
}

stop() {
    [[ -d $RUN ]] || { say "nothing to stop ($RUN does not exist)"; return 0; }
    local name
    stop_one nginx QUIT  # first: no new requests reach the nodes
    for name in "${WEB_NODES[@]}"; do stop_one "$name" TERM; done
    for name in "${WORKERS[@]}"; do stop_one "$name" TERM; done
    if [[ -f $RUN/postgres.pid ]]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$RUN/pg/data" -m fast -w stop >/dev/null 2>&1 || true
        stop_one postgres TERM
    fi
    stop_one redis TERM
    rm -rf "$RUN/pg" "$RUN/redis" "$RUN/nginx/temp" "$RUN/ports.env"
    say "stopped; the logs are in $RUN/logs and $RUN/nginx/logs"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: scripts/cluster.sh start|stop|status" ;;
esac

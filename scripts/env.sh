# Sourced by the scripts: where things live for one stack on this machine.
# RV_PORT and RV_DATA_DIR select the stack, so two can run side by side.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RV_PORT=${RV_PORT:-8080}
RV_DATA_DIR=${RV_DATA_DIR:-$ROOT/var}
mkdir -p "$RV_DATA_DIR"
RV_DATA_DIR=$(cd "$RV_DATA_DIR" && pwd)
RV_BIN_DIR=${RV_BIN_DIR:-$ROOT/bin}
RUN_DIR=$RV_DATA_DIR/run
LOG_DIR=$RV_DATA_DIR/log
PG_DIR=$RV_DATA_DIR/pg
PG_BIN=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
ENV_FILE=$RV_DATA_DIR/reelvox.env
export RV_PORT RV_DATA_DIR RV_BIN_DIR
export RV_PUBLIC_URL=${RV_PUBLIC_URL:-http://127.0.0.1:$RV_PORT}

# PostgreSQL refuses to run as root: as root the cluster belongs to the postgres
# user, and when that user cannot reach the data folder (a checkout under /root),
# the cluster lives under /var/tmp with a link from the data folder.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_socket_dir() { readlink -f "$PG_DIR"; }

export RV_DATABASE_URL=${RV_DATABASE_URL:-"host=$(pg_socket_dir) dbname=reelvox user=reelvox_app"}
export RV_POLLER_DATABASE_URL=${RV_POLLER_DATABASE_URL:-"host=$(pg_socket_dir) dbname=reelvox user=reelvox_poller"}
export RV_MIGRATE_URL=${RV_MIGRATE_URL:-"host=$(pg_socket_dir) dbname=reelvox user=postgres"}

# Every endpoint binary (one FastCGI socket each); the poller is not one.
handler_names() {
    for b in "$RV_BIN_DIR"/*; do
        n=$(basename "$b")
        [ -x "$b" ] && [ "$n" != poller ] && echo "$n"
    done
}

say() { printf '%s\n' "$*" >&2; }

# Whether process $1 runs. A dead one stays a zombie until its new parent (init,
# for what scripts/up started) reaps it, and `kill -0` takes a zombie for alive.
running() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null &&
        [ "$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

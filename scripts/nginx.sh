# Sourced by scripts/up and scripts/install: the values of nginx/reelvox.conf.in's
# placeholders that come from settings. Each prints one line (nginx takes several
# directives on one line), or nothing.

# @REAL_IP@ from RV_TRUSTED_PROXIES (addresses or CIDRs, commas or spaces): the
# realip directives that take the client's address from X-Forwarded-For when the
# connection comes from one of them. Anything else in the list is refused (exit 1).
rv_nginx_real_ip() {
    local out="" a
    for a in $(printf '%s' "${1:-}" | tr ',' ' '); do
        if ! [[ $a =~ ^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$ ]]; then
            printf 'RV_TRUSTED_PROXIES: "%s" is not an address or a CIDR\n' "$a" >&2
            return 1
        fi
        out+="set_real_ip_from $a; "
    done
    [ -z "$out" ] || out+="real_ip_header X-Forwarded-For; real_ip_recursive on;"
    printf '%s' "$out"
}

# @HSTS@ from RV_PUBLIC_URL: the Strict-Transport-Security value when it is https.
rv_nginx_hsts() {
    case ${1:-} in
    [Hh][Tt][Tt][Pp][Ss]://*) printf '%s' 'max-age=31536000; includeSubDomains' ;;
    esac
}

# @UPSTREAMS@: one FastCGI upstream per endpoint socket named in an endpoints.conf
# (read on stdin) — `upstream rv_<name> { server unix:<fcgi dir>/<name>.sock;
# keepalive <n>; }` — so that nginx keeps its FastCGI connections open between
# requests (fastcgi_keep_conn on, nginx/fastcgi.conf). n idle connections are kept per
# nginx worker: 16 per handler worker (RV_WORKERS), each of which serves many kept
# connections at once (common/serve.c). A socket whose fastcgi_pass line ends in
# `# solo` (RV_SOLO: slow requests, one connection per worker) gets no pool: nginx
# closes its connection after each request. The endpoints file itself is rendered
# with rv_nginx_pass_sed, which points every fastcgi_pass at its upstream.
rv_nginx_upstreams() { # fcgi_dir workers
    local k=$((${2:-2} * 16)) out="" name conf pool
    [ "$k" -ge 8 ] || k=8
    conf=$(cat)
    for name in $(sed -n 's|^[[:space:]]*fastcgi_pass unix:@FCGI@/\([A-Za-z0-9_]*\)\.sock;.*|\1|p' <<<"$conf" | sort -u); do
        pool=" keepalive $k;"
        if grep -q "^[[:space:]]*fastcgi_pass unix:@FCGI@/$name\.sock;[[:space:]]*# solo" <<<"$conf"; then
            pool=""
        fi
        out+="upstream rv_$name { server unix:$1/$name.sock;$pool } "
    done
    printf '%s' "$out"
}
rv_nginx_pass_sed='s|fastcgi_pass unix:@FCGI@/\([A-Za-z0-9_]*\)\.sock;|fastcgi_pass rv_\1;|'

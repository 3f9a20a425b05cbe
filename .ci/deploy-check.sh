#!/usr/bin/env bash
# The deployment examples in deploy/, checked by the programs that will
# read them, against the binary built from this tree:
#  1. deploy/painline.service: systemd-analyze verify, in a scratch root
#     holding the binary at usr/local/bin/painline (verify refuses an
#     ExecStart that is not an executable file there) and this system's
#     own units (the targets it names); any line of output that concerns
#     the unit fails. A copy with a misspelt directive must be caught (so
#     the check cannot pass by saying nothing), and systemd-analyze
#     security must rate its exposure 2.0 or lower (it is 1.4).
#  2. deploy/painline.env.example: systemd's parser and sh read the same
#     values from it (painline-admin sources it with sh), painline refuses
#     its placeholder key and accepts every other value in it.
#  3. deploy/nginx.conf by nginx -t (which binds: on free local ports, with
#     a certificate of its own), deploy/Caddyfile by caddy validate; any
#     warning fails.
#  4. Each proxy in front of a running Painline (only its listen address,
#     upstream port and certificate paths changed): a client at 127.0.0.2
#     sends a forged X-Forwarded-For, and Painline's log must name
#     127.0.0.2 as the client; a 100 KiB body must get Painline's own 413;
#     /metrics must be the proxy's 404.
# Missing programs are installed from Debian when run as root (as .ci/run
# does for PostgreSQL; on a machine running systemd, Debian starts the
# nginx and caddy services it installs). PAINLINE_BIN=path skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ -n "${PAINLINE_BIN:-}" ]; then
    bin=$PAINLINE_BIN
else
    cargo build --quiet
    bin=$root/target/debug/painline
fi
[ -x "$bin" ] || { echo "no painline binary at $bin" >&2; exit 1; }

need() { # program, Debian package
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "$1 is missing and only root can install it: apt-get install $2 (then run this again)" >&2
        exit 1
    fi
    echo "== installing Debian's $2 package (for $1)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "$2" >/dev/null
}
need systemd-analyze systemd
need nginx nginx
need caddy caddy
need curl curl
need openssl openssl
need python3 python3

work=$(mktemp -d)
pids=()
finish() {
    status=$?
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ] && [ -f "$work/painline.log" ]; then
        echo "-- Painline's log (last 20 lines)" >&2
        tail -n 20 "$work/painline.log" >&2
    fi
    rm -rf "$work"
}
trap finish EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- the unit

echo "== deploy/painline.service: systemd-analyze verify"
units=
for dir in /usr/lib/systemd/system /lib/systemd/system; do
    [ -d "$dir" ] && { units=$dir; break; }
done
[ -n "$units" ] || fail "this system's systemd units are not in /usr/lib/systemd/system"
sysroot=$work/root
mkdir -p "$sysroot/usr/local/bin" "$sysroot/usr/lib/systemd" "$sysroot/etc/systemd/system"
cp -a "$units" "$sysroot/usr/lib/systemd/system"
# verify only checks that ExecStart names an executable file; the real
# binary is put there all the same.
install -m 0755 "$bin" "$sysroot/usr/local/bin/painline"
verify() { # unit file → what systemd-analyze verify says about it
    cp "$1" "$sysroot/etc/systemd/system/painline.service"
    systemd-analyze verify --root="$sysroot" --man=no painline.service 2>&1 || true
}
said=$(verify deploy/painline.service)
if [ -n "$said" ]; then
    echo "$said"
    # Warnings about the system's own units are not ours to mend.
    if grep -q painline <<<"$said"; then
        fail "systemd-analyze verify has something to say about deploy/painline.service"
    fi
fi
echo "-- a misspelt directive is caught"
sed '/^\[Service\]$/a ProtectSystm=strict' deploy/painline.service >"$work/broken.service"
grep -q '^ProtectSystm=' "$work/broken.service" || fail "could not make the broken copy"
verify "$work/broken.service" | grep -q "Unknown key 'ProtectSystm'" ||
    fail "systemd-analyze verify did not report a misspelt directive: this check proves nothing"
verify deploy/painline.service >/dev/null
echo "-- systemd-analyze security (exposure 2.0 or lower)"
systemd-analyze security --offline=yes --root="$sysroot" --threshold=20 painline.service |
    tail -n 1 || fail "the unit's exposure is above 2.0: a hardening line was lost"

# ------------------------------------------------------------ the settings

echo "== deploy/painline.env.example: read alike by systemd and sh, accepted by painline"
# systemd's own parser of KEY=value files, as the environment.d generator
# uses it (it also expands \$VARS, which the example holds none of).
generator=/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator
[ -x "$generator" ] || fail "systemd's environment.d generator is missing ($generator)"
mkdir -p "$work/xdg/environment.d"
# With the commented-out settings too, as a clinic will use them.
sed -E 's/^#([A-Z_]+=)/\1/' deploy/painline.env.example >"$work/xdg/environment.d/painline.conf"
env -i XDG_CONFIG_HOME="$work/xdg" HOME="$work" "$generator" >"$work/systemd.env"
keys=$(grep -oE '^[A-Z_]+=' "$work/xdg/environment.d/painline.conf" | tr -d =)
# The single-quoted scripts are sh's to expand (here and below).
# shellcheck disable=SC2016
for key in $keys; do
    by_systemd=$(env -i sh -c 'set -a; . "$0"; eval "printf %s \"\$$1\""' "$work/systemd.env" "$key") ||
        fail "$key: cannot read systemd's reading back"
    by_sh=$(env -i sh -c 'set -a; . "$0"; eval "printf %s \"\$$1\""' "$work/xdg/environment.d/painline.conf" "$key" 2>&1) ||
        fail "sh cannot read deploy/painline.env.example (quote values with spaces or < > & ; | \$): $by_sh"
    [ "$by_systemd" = "$by_sh" ] || fail "$key: systemd reads '$by_systemd', sh reads '$by_sh'"
done
echo "-- $(wc -w <<<"$keys") settings read alike"
# shellcheck disable=SC2016
settings() { # the example's settings (SQLite: DATABASE_URL stays commented out)
    env -i sh -c 'set -a; . "$0"; exec "$@"' "$root/deploy/painline.env.example" "$@"
}
mkdir "$work/settings"
refused=$(cd "$work/settings" && settings env PATH="$PATH" "$bin" migrate 2>&1) &&
    fail "painline started with the placeholder key"
grep -q 'PAINLINE_JWT_SECRET: must be at least 32 bytes' <<<"$refused" ||
    fail "the placeholder key was refused for another reason: $refused"
(cd "$work/settings" && settings env PATH="$PATH" \
    PAINLINE_JWT_SECRET="$(head -c 48 /dev/urandom | base64 -w0)" "$bin" migrate 2>/dev/null) ||
    fail "painline refuses a setting of deploy/painline.env.example"

echo "== deploy/painline-admin"
sh -n deploy/painline-admin
if command -v shellcheck >/dev/null 2>&1; then
    shellcheck deploy/painline-admin
else
    echo "-- (shellcheck not installed: syntax only)"
fi

# ------------------------------------------------------------ the proxies

echo "== deploy/nginx.conf: nginx -t"
# nginx -t binds the listen addresses: free ports on 127.0.0.1 instead of
# 80 and 443 (which need root, and may be taken), and this check's own
# certificate and upstream. The same file runs in front of Painline below.
mkdir -p "$work/nginx/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=painline.example.org \
    -keyout "$work/nginx/key.pem" -out "$work/nginx/cert.pem" 2>/dev/null
app_port=$(free_port)
nginx_port=$(free_port)
nginx_redirect=$(free_port)
sed -e "s#/etc/letsencrypt/live/painline.example.org/fullchain.pem#$work/nginx/cert.pem#" \
    -e "s#/etc/letsencrypt/live/painline.example.org/privkey.pem#$work/nginx/key.pem#" \
    -e '/listen \[::\]/d' \
    -e "s/listen 443 ssl;/listen 127.0.0.1:$nginx_port ssl;/" \
    -e "s/listen 80;/listen 127.0.0.1:$nginx_redirect;/" \
    -e "s#proxy_pass http://127.0.0.1:8080;#proxy_pass http://127.0.0.1:$app_port;#" \
    deploy/nginx.conf >"$work/nginx/site.conf"
grep -q "proxy_pass http://127.0.0.1:$app_port;" "$work/nginx/site.conf" ||
    fail "deploy/nginx.conf no longer proxies to 127.0.0.1:8080"
cat >"$work/nginx/nginx.conf" <<CONF
pid $work/nginx/nginx.pid;
events {}
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    include $work/nginx/site.conf;
}
CONF
said=$(nginx -t -q -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" 2>&1) ||
    { echo "$said"; fail "nginx -t refuses deploy/nginx.conf"; }
[ -z "$said" ] || { echo "$said"; fail "nginx -t warns about deploy/nginx.conf"; }

echo "== deploy/Caddyfile: caddy validate"
export HOME=$work/caddy XDG_DATA_HOME=$work/caddy XDG_CONFIG_HOME=$work/caddy
said=$(caddy validate --config deploy/Caddyfile --adapter caddyfile 2>&1) ||
    { echo "$said"; fail "caddy validate refuses deploy/Caddyfile"; }
if grep -E '"level":"(warn|error)"' <<<"$said"; then
    fail "caddy warns about deploy/Caddyfile"
fi

echo "== the proxies in front of a running Painline"
mkdir "$work/app"
(cd "$work/app" && exec env -i PATH="$PATH" HOME="$work" \
    PAINLINE_BIND="127.0.0.1:$app_port" PAINLINE_TRUSTED_PROXIES=127.0.0.1 PAINLINE_LOG=info \
    "$bin" serve 2>>"$work/painline.log") &
pids+=($!)
up() { # url: wait until it answers
    for _ in $(seq 100); do
        curl -sk -o /dev/null "$1" && return 0
        sleep 0.1
    done
    return 1
}
up "http://127.0.0.1:$app_port/readyz" || fail "Painline did not start"

# A client at 127.0.0.2 sends a forged X-Forwarded-For through the proxy at
# $2 (Host painline.example.org); Painline must log 127.0.0.2 as the client.
through() { # name, base URL, extra curl arguments…
    local name=$1 base=$2 id ip status
    shift 2
    id=$(curl -sk "$@" --interface 127.0.0.2 -H 'X-Forwarded-For: 203.0.113.66' \
        -D - -o /dev/null "$base/healthz" | tr -d '\r' |
        awk -F': ' 'tolower($1) == "x-request-id" { print $2 }')
    [ -n "$id" ] || fail "$name: no answer from Painline through the proxy"
    ip=
    for _ in $(seq 50); do
        ip=$(grep -F "\"request_id\":\"$id\"" "$work/painline.log" |
            grep -oE '"http.client_ip":"[^"]*"' | head -n 1 | cut -d'"' -f4) || true
        [ -n "$ip" ] && break
        sleep 0.1
    done
    [ "$ip" = 127.0.0.2 ] ||
        fail "$name: Painline took the client for '$ip', not 127.0.0.2 (X-Forwarded-For mishandled)"
    echo "-- $name: a forged X-Forwarded-For is ignored, Painline sees the client (127.0.0.2)"
    status=$(head -c 102400 /dev/zero | tr '\0' a |
        curl -sk "$@" -o "$work/answer" -w '%{http_code} %{content_type}' \
            -H 'content-type: application/json' --data-binary @- "$base/v1/auth/login")
    [ "$status" = "413 application/problem+json" ] ||
        fail "$name: a 100 KiB body got '$status', not Painline's own 413"
    echo "-- $name: a 100 KiB body reaches Painline, which answers 413"
    status=$(curl -sk "$@" -o /dev/null -w '%{http_code}' "$base/metrics")
    [ "$status" = 404 ] || fail "$name: /metrics answered $status through the proxy"
    echo "-- $name: /metrics is not served through it"
}

# Workers run as nobody when started by root: they write request bodies
# to the temp folder.
chmod 0755 "$work" "$work/nginx"
chmod 0777 "$work/nginx/tmp"
nginx -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
up "https://127.0.0.1:$nginx_port/" || fail "nginx did not start"
through nginx "https://painline.example.org:$nginx_port" \
    --resolve "painline.example.org:$nginx_port:127.0.0.1"

caddy_port=$(free_port)
{
    printf '{\n\tadmin off\n}\n\n'
    sed -e "s#^painline.example.org {#http://painline.example.org:$caddy_port {#" \
        -e "s#reverse_proxy 127.0.0.1:8080#reverse_proxy 127.0.0.1:$app_port#" deploy/Caddyfile
} >"$work/Caddyfile"
grep -q "reverse_proxy 127.0.0.1:$app_port" "$work/Caddyfile" ||
    fail "deploy/Caddyfile no longer proxies to 127.0.0.1:8080"
caddy run --config "$work/Caddyfile" --adapter caddyfile 2>>"$work/caddy.log" &
pids+=($!)
up "http://127.0.0.1:$caddy_port/" || fail "caddy did not start"
through caddy "http://painline.example.org:$caddy_port" \
    --resolve "painline.example.org:$caddy_port:127.0.0.1"

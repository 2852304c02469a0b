# Sourced by the tests that pull (after lib.sh): Debian's docker-registry
# (distribution 2.8) on loopback in the test's own network namespace, and
# skopeo to push to it.
#
#   registry_tools TOOL...          skip the whole test unless each is installed
#   start_registry NAME ADDR [YAML] a registry storing in $W/NAME, its config
#                                   $W/NAME.yml with YAML appended (tls, auth)
#   stop_registries                 stop every registry started
#   push SKOPEO-COPY-ARGS...        skopeo copy to a registry without TLS checks
#   start_proxy PORT UPSTREAM USER:PW  registry-proxy.py on 127.0.0.1:PORT in front
#                                   of registry UPSTREAM (ADDR): bearer tokens for
#                                   USER:PW, redirected and cut blobs; log $W/proxy.log
#   authfile REGISTRY USER:PW FILE  write FILE in podman's auth.json format
#
# W (a scratch dir) must be set before start_registry.

REGPIDS=()

registry_tools() {
        local tool
        for tool in "$@"; do
                if ! command -v "$tool" >/dev/null; then
                        ok "# SKIP $tool is not installed (tests/run installs it)"
                        done_testing
                fi
        done
        # Nothing here may leave the namespace; a proxy from the environment would.
        unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
}

stop_registries() {
        local p
        for p in "${REGPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}

start_registry() {
        local name=$1 addr=$2 extra=${3:-}
        mkdir -p "$W/$name"
        cat >"$W/$name.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/$name
  delete:
    enabled: true
http:
  addr: $addr
$extra
EOF
        docker-registry serve "$W/$name.yml" >"$W/$name.log" 2>&1 &
        REGPIDS+=($!)
        wait_for 20 curl -sk -o /dev/null "http${extra:+s}://$addr/v2/"
}

push() { skopeo copy -q --dest-tls-verify=false "$@"; }

start_proxy() {
        python3 "$(dirname "${BASH_SOURCE[0]}")/registry-proxy.py" "$1" "http://$2" "$3" "$W/proxy.log" \
                >"$W/proxy.out" 2>&1 &
        REGPIDS+=($!)
        wait_for 20 curl -s -o /dev/null "http://127.0.0.1:$1/v2/"
}

authfile() { printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$1" "$(printf '%s' "$2" | base64 -w0)" >"$3"; }

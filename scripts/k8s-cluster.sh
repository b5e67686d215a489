#!/usr/bin/env bash
# A real two-node Kubernetes v1.20.2 cluster on one machine, for the kubernetes runner's tests.
#
#   bash scripts/k8s-cluster.sh build   # Debian source package -> binaries (cached; ~11 min cold)
#   bash scripts/k8s-cluster.sh up      # etcd+apiserver+scheduler+controller-manager, 2 kubelets
#   bash scripts/k8s-cluster.sh down    # kill by PID, remove netns/cgroups (idempotent)
#   bash scripts/k8s-cluster.sh env     # print KUBECONFIG=... and BATCHEMU_K8S_HOST_IP=...
#
# Why built from source: no registry we may use ships kube-apiserver/kubelet; Debian's source
# package `kubernetes` is the full v1.20.2 tree with vendor/ (see distributed-engines.md §1.3).
# Three one-line kubelet patches keep it from writing host sysctls and from asking for a
# negative oom_score_adj (denied on shared machines).
#
# Layout: everything runs in network namespaces we own (kubelet refuses a loopback node IP):
#   netns dsim-br: bridge br0; netns dsim-k1 (10.231.0.1: control plane + kubelet dsim-k1);
#   netns dsim-k2 (10.231.0.2: kubelet dsim-k2, in its own mount namespace so /var/log/pods is
#   private); a veth from the host netns onto the bridge (10.231.0.254) so hostNetwork pods can
#   reach a batchemu server on the host. Each kubelet has a private dockerd (never the shared
#   /var/run/docker.sock), with batchemu-test/busybox:latest and a pause image loaded into it.
# Needs root (netns, cgroups v1, mounts).
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

CACHE="${BATCHEMU_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/batchemu/k8s}"
BIN="$CACHE/bin"
RUN="${BATCHEMU_K8S_RUN:-/tmp/batchemu-k8s}"
KUBECONFIG_PATH="$RUN/kubeconfig"
HOST_IP=10.231.0.254
IMAGE="${BATCHEMU_TEST_IMAGE:-batchemu-test/busybox:latest}"
NODES=(1 2)
COMPONENTS=(kube-apiserver kube-scheduler kube-controller-manager kubelet)
RECIPE=2   # bump when the patches or the build change: cached binaries are rebuilt

log() { echo "k8s-cluster: $*" >&2; }

build() {
    local have=1 c
    for c in "${COMPONENTS[@]}"; do [ -x "$BIN/$c" ] || have=0; done
    [ "$(cat "$BIN/RECIPE" 2>/dev/null)" = "$RECIPE" ] || have=0
    mkdir -p "$CACHE"
    export DEBIAN_FRONTEND=noninteractive
    # The tools, even with cached binaries: `up` needs etcd, openssl and curl too.
    if ! command -v go >/dev/null || ! command -v etcd >/dev/null || ! command -v rsync >/dev/null \
        || ! command -v openssl >/dev/null || ! command -v curl >/dev/null || ! command -v perl >/dev/null \
        || ! command -v jq >/dev/null; then
        apt-get install -y -q golang-go etcd-server rsync jq openssl curl perl >>"$CACHE/apt.log" 2>&1 || {
            apt-get update -q >>"$CACHE/apt.log" 2>&1
            apt-get install -y -q golang-go etcd-server rsync jq openssl curl perl >>"$CACHE/apt.log" 2>&1; }
    fi
    if [ "$have" = 1 ]; then log "binaries cached in $BIN"; return 0; fi
    if ! grep -rqs 'deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            > /etc/apt/sources.list.d/batchemu-deb-src.sources
        apt-get update -q >>"$CACHE/apt.log" 2>&1
    fi
    local src="$CACHE/src"
    mkdir -p "$src"
    if ! ls "$src"/kubernetes_*.orig.tar.gz >/dev/null 2>&1; then
        (cd "$src" && apt-get source --download-only kubernetes >>"$CACHE/apt.log" 2>&1)
    fi
    local tree
    tree="$(ls -d "$src"/kubernetes-*/ 2>/dev/null | head -1 || true)"
    if [ -z "$tree" ]; then
        (cd "$src" && tar xzf kubernetes_*.orig.tar.gz)
        tree="$(ls -d "$src"/kubernetes-*/ | head -1)"
    fi
    cd "$tree"
    # sandbox patches: never write host sysctls; no negative oom_score_adj
    sed -i 's/b := KernelTunableModify/b := KernelTunableWarn/' pkg/kubelet/cm/container_manager_linux.go
    sed -i 's/defaultSandboxOOMAdj int = -998/defaultSandboxOOMAdj int = 0/' pkg/kubelet/dockershim/docker_sandbox.go
    sed -i 's/guaranteedOOMScoreAdj int = -997/guaranteedOOMScoreAdj int = 0/' pkg/kubelet/qos/policy.go
    # Go >= 1.18 changed reflect.mapiterinit, which the vendored modern-go/reflect2 v1.0.1
    # links to by name: the apiserver then crashes encoding maps to JSON (SIGSEGV, "apiserver
    # panic'd on GET /api/v1/nodes"). The fix of reflect2 v1.0.2, applied to the vendored copy.
    local r2=vendor/github.com/modern-go/reflect2
    perl -0pi -e 's/func mapiterinit\(rtype unsafe.Pointer, m unsafe.Pointer\) \*hiter/func mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer, it *hiter)/; s/type hiter struct \{.*?\n\}/type hiter struct {\n\tkey         unsafe.Pointer\n\tvalue       unsafe.Pointer\n\tt           unsafe.Pointer\n\th           unsafe.Pointer\n\tbuckets     unsafe.Pointer\n\tbptr        unsafe.Pointer\n\toverflow    *[]unsafe.Pointer\n\toldoverflow *[]unsafe.Pointer\n\tstartBucket uintptr\n\toffset      uint8\n\twrapped     bool\n\tB           uint8\n\ti           uint8\n\tbucket      uintptr\n\tcheckBucket uintptr\n}/s' "$r2/unsafe_link.go"
    perl -0pi -e 's/\treturn &UnsafeMapIterator\{\n\t\thiter:      mapiterinit\(type2.rtype, \*\(\*unsafe.Pointer\)\(obj\)\),/\tvar it hiter\n\tmapiterinit(type2.rtype, *(*unsafe.Pointer)(obj), &it)\n\treturn &UnsafeMapIterator{\n\t\thiter:      &it,/' "$r2/unsafe_map.go"
    grep -q 'm unsafe.Pointer, it \*hiter)' "$r2/unsafe_link.go"
    grep -q 'checkBucket uintptr' "$r2/unsafe_link.go"
    grep -q 'mapiterinit(type2.rtype, \*(\*unsafe.Pointer)(obj), &it)' "$r2/unsafe_map.go"
    grep -q 'b := KernelTunableWarn' pkg/kubelet/cm/container_manager_linux.go
    grep -q 'defaultSandboxOOMAdj int = 0' pkg/kubelet/dockershim/docker_sandbox.go
    grep -q 'guaranteedOOMScoreAdj int = 0' pkg/kubelet/qos/policy.go
    log "building ${COMPONENTS[*]} (about 11 min on 2 cores; log in $CACHE/make.log)"
    local t0=$SECONDS
    nice -n 19 env HOME="$CACHE/home" GOCACHE="$CACHE/gocache" GOPROXY=off KUBE_GIT_VERSION=v1.20.2 \
        KUBE_BUILD_PLATFORMS=linux/amd64 CGO_ENABLED=0 GOFLAGS= \
        make WHAT="cmd/kube-apiserver cmd/kube-scheduler cmd/kube-controller-manager cmd/kubelet" \
        >"$CACHE/make.log" 2>&1 || { tail -n 30 "$CACHE/make.log" >&2; exit 1; }
    mkdir -p "$BIN.tmp"
    for c in "${COMPONENTS[@]}"; do cp "_output/local/bin/linux/amd64/$c" "$BIN.tmp/$c"; done
    echo "$RECIPE" >"$BIN.tmp/RECIPE"
    rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
    log "built in $((SECONDS - t0)) s into $BIN"
    # The tree (2.7 GB) and go cache are only needed for a rebuild.
    if [ "${BATCHEMU_K8S_KEEP_SRC:-0}" != 1 ]; then rm -rf "$tree" "$CACHE/gocache"; fi
}


NETNS_BR=bek8s-br
CGROUPS=(cpu cpuacct cpuset memory devices freezer blkio pids systemd unified)

# Components enter the netns with `nsenter --net=` (not `ip netns exec`: it remounts /sys and hides cgroups).

# start NAME CMD...: run in the background, detached, niced, logging to $RUN/NAME.log
start() {
    local name="$1"; shift
    setsid nohup nice -n 10 "$@" >"$RUN/$name.log" 2>&1 < /dev/null &
    echo $! >"$RUN/pids/$name.pid"
}

# start_supervised NAME CMD...: the same, restarted when it dies. kube-apiserver 1.20 built
# with Debian's Go 1.19 was seen to crash once (SIGSEGV in a map iteration) at start-up here.
start_supervised() {
    local name="$1"; shift
    # shellcheck disable=SC2016
    setsid nohup nice -n 10 bash -c 'trap "kill \$child 2>/dev/null; exit 0" TERM
        while :; do "$@" & child=$!; wait $child
            echo "k8s-cluster: $0 exited ($?); restarting it" >&2; sleep 1; done' "$name" "$@" \
        >"$RUN/$name.log" 2>&1 < /dev/null &
    echo $! >"$RUN/pids/$name.pid"
}

wait_for() {   # wait_for SECONDS WHAT CMD...
    local limit="$1" what="$2"; shift 2
    local t0=$SECONDS
    until "$@" >/dev/null 2>&1; do
        if [ $((SECONDS - t0)) -ge "$limit" ]; then log "timed out waiting for $what"; return 1; fi
        sleep 1
    done
}

network_up() {
    ip netns add "$NETNS_BR"
    ip -n "$NETNS_BR" link add br0 type bridge
    ip -n "$NETNS_BR" link set br0 up
    local n
    for n in "${NODES[@]}"; do
        ip netns add "bek8s-k$n"
        ip link add "bek8s-v$n" type veth peer name eth0 netns "bek8s-k$n"
        ip link set "bek8s-v$n" netns "$NETNS_BR"
        ip -n "$NETNS_BR" link set "bek8s-v$n" master br0
        ip -n "$NETNS_BR" link set "bek8s-v$n" up
        ip -n "bek8s-k$n" addr add "10.231.0.$n/24" dev eth0
        ip -n "bek8s-k$n" link set eth0 up
        ip -n "bek8s-k$n" link set lo up
    done
    # The host's leg on the bridge: the batchemu server (and the tests) on the host reach the
    # apiserver at 10.231.0.1, and hostNetwork pods reach a server bound to $HOST_IP.
    ip link add bek8s-host type veth peer name bek8s-hostbr netns "$NETNS_BR"
    ip -n "$NETNS_BR" link set bek8s-hostbr master br0
    ip -n "$NETNS_BR" link set bek8s-hostbr up
    ip addr add "$HOST_IP/24" dev bek8s-host
    ip link set bek8s-host up
}

control_plane_up() {
    local R="$RUN" K1="bek8s-k1"
    mkdir -p "$R"/{etcd,certs}
    openssl genrsa -out "$R/certs/sa.key" 2048 2>/dev/null
    openssl rsa -in "$R/certs/sa.key" -pubout -out "$R/certs/sa.pub" 2>/dev/null
    local token; token="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "$token,admin,admin,\"system:masters\"" >"$R/certs/tokens.csv"
    cat >"$KUBECONFIG_PATH.tmp" <<KC
apiVersion: v1
kind: Config
clusters: [{name: batchemu-k8s, cluster: {server: "https://10.231.0.1:16443", insecure-skip-tls-verify: true}}]
contexts: [{name: batchemu-k8s, context: {cluster: batchemu-k8s, user: admin, namespace: batchemu}}]
users: [{name: admin, user: {token: $token}}]
current-context: batchemu-k8s
KC
    chmod 600 "$KUBECONFIG_PATH.tmp"
    start etcd nsenter --net="/var/run/netns/$K1" etcd --name bek8s --data-dir "$R/etcd" --listen-client-urls http://10.231.0.1:12379 \
        --advertise-client-urls http://10.231.0.1:12379 --listen-peer-urls http://127.0.0.1:12380 \
        --initial-advertise-peer-urls http://127.0.0.1:12380 --initial-cluster bek8s=http://127.0.0.1:12380
    start_supervised kube-apiserver nsenter --net="/var/run/netns/$K1" "$BIN/kube-apiserver" --etcd-servers=http://10.231.0.1:12379 \
        --bind-address=10.231.0.1 --advertise-address=10.231.0.1 --secure-port=16443 --cert-dir="$R/certs" \
        --token-auth-file="$R/certs/tokens.csv" --authorization-mode=AlwaysAllow \
        --service-cluster-ip-range=10.96.0.0/24 --service-account-key-file="$R/certs/sa.pub" \
        --service-account-signing-key-file="$R/certs/sa.key" --service-account-issuer=https://batchemu-k8s.invalid \
        --disable-admission-plugins=ServiceAccount --allow-privileged=true --kubelet-preferred-address-types=InternalIP
    echo "$token" >"$R/certs/token"
    mv "$KUBECONFIG_PATH.tmp" "$KUBECONFIG_PATH"
    wait_for 90 "the apiserver" api GET /readyz
    start_supervised kube-scheduler nsenter --net="/var/run/netns/$K1" "$BIN/kube-scheduler" --kubeconfig="$KUBECONFIG_PATH" --leader-elect=false \
        --bind-address=10.231.0.1 --port=0 --secure-port=0
    start_supervised kube-controller-manager nsenter --net="/var/run/netns/$K1" "$BIN/kube-controller-manager" --kubeconfig="$KUBECONFIG_PATH" \
        --leader-elect=false --bind-address=10.231.0.1 --port=0 --secure-port=0 \
        --service-account-private-key-file="$R/certs/sa.key" \
        --controllers='*,-nodeipam,-service,-route,-cloud-node-lifecycle'
}

node_up() {
    local n="$1" R="$RUN/node$n"
    local sock="$R/docker/docker.sock" D
    mkdir -p "$R"/{docker/data,docker/exec,kubelet/pki,dockershim,logs/pods,logs/containers}
    # A private dockerd in the node's netns: hostNetwork pods get the node's address, and the
    # shared /var/run/docker.sock is never touched.
    start "dockerd$n" nsenter --net="/var/run/netns/bek8s-k$n" dockerd --data-root "$R/docker/data" --exec-root "$R/docker/exec" \
        --pidfile "$R/docker/docker.pid" -H "unix://$sock" --storage-driver=vfs --iptables=false \
        --ip-masq=false --bridge=none --cgroup-parent="/bek8s-d$n"
    D=(docker -H "unix://$sock")
    wait_for 60 "dockerd $n" "${D[@]}" info
    docker save "$IMAGE" | "${D[@]}" load -q >/dev/null
    local ctx="$R/pause"
    mkdir -p "$ctx"
    printf 'FROM %s\nENTRYPOINT ["sh","-c","trap \\"exit 0\\" TERM INT; while true; do sleep 3600 & wait $!; done"]\n' \
        "$IMAGE" >"$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 "${D[@]}" build --network none -q -t batchemu-k8s/pause:1 "$ctx" >/dev/null
    local c
    for c in "${CGROUPS[@]}"; do
        [ -d "/sys/fs/cgroup/$c" ] && mkdir -p "/sys/fs/cgroup/$c/bek8s$n"
    done
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/bek8s$n/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/bek8s$n/cpuset.mems"
    mkdir -p /var/log/pods /var/log/containers   # mount points only: each kubelet binds its own
    # Each kubelet in a private mount namespace: /var/log/pods is hard-coded, and two kubelets
    # sharing it garbage-collect each other's pod logs (distributed-engines.md §1.3).
    start "kubelet$n" nsenter --net="/var/run/netns/bek8s-k$n" unshare -m --propagation private sh -c \
        'mount --bind "$0/logs/pods" /var/log/pods && mount --bind "$0/logs/containers" /var/log/containers && exec "$@"' \
        "$R" "$BIN/kubelet" --kubeconfig="$KUBECONFIG_PATH" --container-runtime=docker \
        --docker-endpoint="unix://$sock" --pod-infra-container-image=batchemu-k8s/pause:1 \
        --root-dir="$R/kubelet" --experimental-dockershim-root-directory="$R/dockershim" \
        --cert-dir="$R/kubelet/pki" --hostname-override="dsim-k$n" --node-ip="10.231.0.$n" \
        --address="10.231.0.$n" --port=10250 --read-only-port=0 --healthz-port=0 --fail-swap-on=false \
        --cgroup-driver=cgroupfs --cgroup-root="/bek8s$n" --make-iptables-util-chains=false \
        --image-gc-high-threshold=100 --image-gc-low-threshold=99 --eviction-hard='memory.available<100Mi' \
        --max-pods=20
}

# api METHOD PATH [JSON]: one call to the apiserver (curl; no kubectl needed)
api() {
    curl -fsSk -X "$1" -H "Authorization: Bearer $(cat "$RUN/certs/token")" \
        -H 'Content-Type: application/json' ${3:+--data "$3"} "https://10.231.0.1:16443$2"
}

nodes_ready() {
    api GET /api/v1/nodes | python3 -c '
import json, sys
nodes = json.load(sys.stdin)["items"]
ready = [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])]
sys.exit(0 if len(ready) >= int(sys.argv[1]) else 1)' "${#NODES[@]}"
}

up() {
    local c
    for c in "${COMPONENTS[@]}"; do
        [ -x "$BIN/$c" ] || { log "no $BIN/$c: run '$0 build' first"; exit 1; }
    done
    if [ -e "/var/run/netns/$NETNS_BR" ]; then log "already up (run '$0 down' first)"; exit 1; fi
    docker image inspect "$IMAGE" >/dev/null 2>&1 || bash "$(dirname "$0")/build-test-image.sh"
    mkdir -p "$RUN/pids"
    local t0=$SECONDS
    network_up
    control_plane_up
    local n
    for n in "${NODES[@]}"; do node_up "$n"; done
    wait_for 180 "both nodes Ready" nodes_ready
    api POST /api/v1/namespaces '{"metadata":{"name":"batchemu"}}' >/dev/null
    log "up in $((SECONDS - t0)) s; KUBECONFIG=$KUBECONFIG_PATH; pods reach the host at $HOST_IP"
}

down() {
    local f pid
    # Kubelets first (they would restart pods), then the control plane, then the dockerds.
    for f in kubelet1 kubelet2 kube-controller-manager kube-scheduler kube-apiserver etcd dockerd1 dockerd2; do
        [ -f "$RUN/pids/$f.pid" ] || continue
        pid="$(cat "$RUN/pids/$f.pid")"
        if kill -0 "$pid" 2>/dev/null; then
            # Its process group (setsid made it the leader): a supervisor's child, dockerd's
            # containerd go with it.
            kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
            local i
            for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$RUN/pids/$f.pid"
    done
    # Anything still in our namespaces (pod processes, shims) belongs to this cluster only.
    local netns
    for netns in bek8s-k1 bek8s-k2 "$NETNS_BR"; do
        if [ -e "/var/run/netns/$netns" ]; then
            for pid in $(ip netns pids "$netns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        fi
    done
    sleep 1
    ip link del bek8s-host 2>/dev/null || true
    for netns in bek8s-k1 bek8s-k2 "$NETNS_BR"; do ip netns del "$netns" 2>/dev/null || true; done
    local c d
    for c in "${CGROUPS[@]}"; do
        for d in "/sys/fs/cgroup/$c/bek8s1" "/sys/fs/cgroup/$c/bek8s2" "/sys/fs/cgroup/$c/bek8s-d1" \
                 "/sys/fs/cgroup/$c/bek8s-d2"; do
            [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done
    done
    # The dockerds' vfs layers and the etcd data: a fresh cluster each `up`.
    # Mounts the dockerds left (shm, netns files) under $RUN, deepest first, before rm -rf.
    if [ -d "$RUN" ]; then
        awk -v run="$RUN" '$2 == run || index($2, run "/") == 1 {print $2}' /proc/mounts | sort -r \
            | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    fi
    rm -rf "$RUN"
    log "down"
}

if [ "$(id -u)" -ne 0 ] && [ "${1:-}" != env ]; then
    # netns, cgroups and mounts need root; keep the caller's cache (HOME) and environment.
    exec sudo --preserve-env HOME="$HOME" PATH="$PATH" bash "$0" "$@"
fi

case "${1:-}" in
    build) build ;;
    up) up ;;
    down) down ;;
    env) echo "KUBECONFIG=$KUBECONFIG_PATH"; echo "BATCHEMU_K8S_HOST_IP=$HOST_IP" ;;
    *) echo "usage: $0 build|up|down|env" >&2; exit 2 ;;
esac

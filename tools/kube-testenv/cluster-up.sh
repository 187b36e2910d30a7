#!/usr/bin/env bash
# Bring up a real single-node Kubernetes cluster as plain processes (no systemd, no Docker):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc from Debian,
# the kubelet, kube-proxy (iptables mode) and CoreDNS behind the kube-dns Service.
#
#   sudo tools/kube-testenv/cluster-up.sh      # then: export KUBECONFIG=$(cat .../kubeconfig-path)
#   sudo tools/kube-testenv/cluster-down.sh    # always restores the host
#
# Prints the admin kubeconfig's path on stdout; progress on stderr. Everything lives in
# $AICB_CLUSTER_DIR (default /var/tmp/aicb-cluster). Only one cluster per machine: a second up
# refuses. Every wait is bounded; a component that dies or does not get ready ends the run with
# its last log lines, and the half-built cluster is taken down again (AICB_CLUSTER_KEEP=1 keeps
# it for a look). Needs root, network namespaces, overlayfs and cgroups; the facts behind the
# settings are in the README ("Running the end-to-end tests").
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cluster-common.sh
source "$HERE/cluster-common.sh"
D=$CLUSTER_DIR
T0=$SECONDS

log() { printf 'cluster-up: [%3ss] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() {
	printf 'cluster-up: ERROR: %s\n' "$*" >&2
	exit 1
}

# --- 1. Preconditions, before anything is changed ----------------------------------------------
[[ $(id -u) == 0 ]] || die "must run as root (network setup, mounts, cgroups)"
for tool in containerd containerd-shim-runc-v2 ctr runc iptables nft ip curl openssl kubectl busybox; do
	command -v "$tool" >/dev/null || die "$tool is not installed (see the README's test:e2e section)"
done
for plugin in bridge host-local loopback; do
	[[ -x /usr/lib/cni/$plugin ]] || die "/usr/lib/cni/$plugin is missing (apt-get install containernetworking-plugins)"
done
[[ $(iptables --version) == *nf_tables* ]] ||
	die "iptables is not the nf_tables backend; down restores the ruleset with nft"
grep -qw overlay /proc/filesystems || die "the kernel has no overlayfs"
[[ -d /proc/sys/net/bridge ]] || die "no br_netfilter (net.bridge.* sysctls); Service traffic between pods needs it"
if [[ ! -d $D ]]; then
	[[ -z $(cgroup_roots) ]] || die "kubepods cgroups exist already ($(cgroup_roots | tr '\n' ' ')): another kubelet runs here"
	! ip link show "$BRIDGE" >/dev/null 2>&1 || die "interface $BRIDGE exists already"
fi
if ! mkdir "$D" 2>/dev/null; then
	die "$D exists: a cluster is up, or a crashed one was not cleaned. Run $HERE/cluster-down.sh first."
fi
# From here on, a failure takes the half-built cluster down again.
FAILED_COMPONENT=
on_exit() {
	local code=$?
	((code == 0)) && return
	if [[ -n $FAILED_COMPONENT && -f $D/logs/$FAILED_COMPONENT.log ]]; then
		printf 'cluster-up: last lines of %s\n' "$D/logs/$FAILED_COMPONENT.log" >&2
		tail -n 40 "$D/logs/$FAILED_COMPONENT.log" | sed 's/^/  | /' >&2
	fi
	if [[ ${AICB_CLUSTER_KEEP:-} == 1 ]]; then
		printf 'cluster-up: AICB_CLUSTER_KEEP=1: left as is; run cluster-down.sh when done\n' >&2
	else
		printf 'cluster-up: taking the half-built cluster down\n' >&2
		bash "$HERE/cluster-down.sh" >&2 || true
	fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$D"/{host,pids,logs,pki,tmp}

# --- 2. What the host looks like now: down restores exactly this -------------------------------
for key in "${SYSCTLS[@]}"; do
	value=$(sysctl -n "$key" 2>/dev/null) && printf '%s=%s\n' "$key" "$value"
done >"$D/host/sysctl"
nft list ruleset >"$D/host/nft.ruleset"
for p in "${HOST_PATHS[@]}"; do [[ -e $p ]] && printf '%s\n' "$p"; done >"$D/host/paths" || true
ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' >"$D/host/links"

# --- 3. Binaries ----------------------------------------------------------------------------------
CP=$(bash "$HERE/build.sh") || die "kube-apiserver/etcd are not available"
NODE=$(bash "$HERE/build.sh" --node) || die "the node binaries are not available"
log "binaries: $CP, $NODE"

# --- 4. Network: our bridge, the Service route, forwarding between pods only -------------------
ip link add "$BRIDGE" type bridge
ip addr add "$NODE_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Host processes reach ClusterIPs through kube-proxy's OUTPUT rules; a Service address with no
# rule stays on the bridge instead of following the default route off the machine.
ip route add "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
# A ClusterIP answered by another pod is DNATed on the host and routed back onto the bridge
# (ip_forward); the reply crosses the bridge and must meet conntrack to be un-NATed.
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
# Forwarding exists for pod-to-pod Service traffic only: nothing is routed between the bridge
# and any other interface, whatever a pod sends.
iptables -I FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP
iptables -I FORWARD ! -i "$BRIDGE" -o "$BRIDGE" -j DROP

# --- 5. Certificates, tokens, kubeconfigs ---------------------------------------------------------
pki() { openssl "$@" >/dev/null 2>&1 || die "openssl $1 failed"; }
pki req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
	-subj /CN=aicb-cluster-ca -keyout "$D/pki/ca.key" -out "$D/pki/ca.crt"
pki req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=kube-apiserver \
	-keyout "$D/pki/apiserver.key" -out "$D/pki/apiserver.csr"
cat >"$D/pki/apiserver.ext" <<EOF
subjectAltName=IP:$NODE_IP,IP:$API_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=serverAuth
EOF
pki x509 -req -in "$D/pki/apiserver.csr" -CA "$D/pki/ca.crt" -CAkey "$D/pki/ca.key" \
	-CAcreateserial -days 7 -extfile "$D/pki/apiserver.ext" -out "$D/pki/apiserver.crt"
pki genrsa -out "$D/pki/sa.key" 2048
pki rsa -in "$D/pki/sa.key" -pubout -out "$D/pki/sa.pub"

# One bearer token per component; RBAC's bootstrap roles name these users.
declare -A TOKENS
token_line() { # name user groups
	TOKENS[$1]=$(openssl rand -hex 24)
	printf '%s,%s,%s,"%s"\n' "${TOKENS[$1]}" "$2" "$2" "$3"
}
{
	token_line admin aicb-admin system:masters
	token_line kubelet "system:node:$NODE_NAME" system:nodes
	token_line kube-proxy system:kube-proxy ""
	token_line controller-manager system:kube-controller-manager ""
	token_line scheduler system:kube-scheduler ""
	token_line coredns aicb:coredns ""
} >"$D/pki/tokens.csv"
chmod 600 "$D/pki/tokens.csv"
kubeconfig() { # name
	cat >"$D/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: aicb, cluster: {server: "https://$NODE_IP:$API_PORT", certificate-authority: "$D/pki/ca.crt"}}]
users: [{name: $1, user: {token: "${TOKENS[$1]}"}}]
contexts: [{name: aicb, context: {cluster: aicb, user: $1}}]
current-context: aicb
EOF
	chmod 600 "$D/$1.kubeconfig"
}
for name in "${!TOKENS[@]}"; do kubeconfig "$name"; done
KUBECTL=(kubectl --kubeconfig "$D/admin.kubeconfig" --cache-dir "$D/tmp/kubectl-cache")

# --- helpers: spawn as our own session, wait with a deadline -----------------------------------
spawn() { # name env-assignments... -- command args...
	local name=$1
	shift
	local envs=()
	while [[ $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	shift
	env "${envs[@]}" setsid "$@" </dev/null >>"$D/logs/$name.log" 2>&1 &
	echo $! >"$D/pids/$name"
	# down stops it by PID; no job-status noise from this shell.
	disown
}
wait_for() { # name timeout-seconds command...
	local name=$1 timeout=$2 start=$SECONDS
	shift 2
	FAILED_COMPONENT=$name
	until "$@" >/dev/null 2>&1; do
		if [[ -f $D/pids/$name ]] && ! is_live "$(<"$D/pids/$name")"; then
			die "$name exited before it was ready"
		fi
		((SECONDS - start < timeout)) || die "$name was not ready after ${timeout}s"
		sleep 0.5
	done
	FAILED_COMPONENT=
	log "$name ready"
}
ok_body() { # url expected-body curl-args...
	local url=$1 want=$2
	shift 2
	[[ $(curl -sS --max-time 2 "$@" "$url") == "$want" ]]
}

# --- 6. Control plane -----------------------------------------------------------------------------
spawn etcd -- "$CP/etcd" --name "$NODE_NAME" --data-dir "$D/etcd" \
	--listen-client-urls "http://$NODE_IP:2379" --advertise-client-urls "http://$NODE_IP:2379" \
	--listen-peer-urls "http://$NODE_IP:2380" --initial-advertise-peer-urls "http://$NODE_IP:2380" \
	--initial-cluster "$NODE_NAME=http://$NODE_IP:2380" \
	--listen-metrics-urls "http://$NODE_IP:2381" --unsafe-no-fsync --log-level warn
wait_for etcd 30 ok_body "http://$NODE_IP:2379/health" '{"health":"true","reason":""}'

# Binds and advertises the node IP so that pods reach it through the kubernetes Service.
spawn kube-apiserver -- "$CP/kube-apiserver" \
	--etcd-servers "http://$NODE_IP:2379" --bind-address "$NODE_IP" --advertise-address "$NODE_IP" \
	--secure-port "$API_PORT" --tls-cert-file "$D/pki/apiserver.crt" --tls-private-key-file "$D/pki/apiserver.key" \
	--cert-dir "$D/pki/apiserver-generated" --token-auth-file "$D/pki/tokens.csv" \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$D/pki/sa.pub" --service-account-signing-key-file "$D/pki/sa.key" \
	--service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
	--enable-admission-plugins NodeRestriction --allow-privileged=true \
	--kubelet-preferred-address-types InternalIP --enable-aggregator-routing=true \
	--profiling=false
wait_for kube-apiserver 90 ok_body "https://$NODE_IP:$API_PORT/readyz" ok \
	--cacert "$D/pki/ca.crt" -H "Authorization: Bearer ${TOKENS[admin]}"

# CoreDNS's read access, and the kube-dns Service in front of it (CoreDNS runs on the node IP as
# a plain process; pods reach it through the Service and kube-proxy, as in any cluster).
"${KUBECTL[@]}" apply -f - >"$D/logs/bootstrap.log" 2>&1 <<EOF || die "bootstrap objects: $(cat "$D/logs/bootstrap.log")"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "aicb:coredns"}
rules:
  - {apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch]}
  - {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "aicb:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "aicb:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "aicb:coredns"}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $DNS_SERVICE_IP
  ports:
    - {name: dns, port: 53, protocol: UDP, targetPort: 53}
    - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-node
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: aicb-cluster-up}
addressType: IPv4
endpoints: [{addresses: ["$NODE_IP"], conditions: {ready: true}}]
ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
EOF

spawn kube-controller-manager -- "$NODE/kube-controller-manager" \
	--kubeconfig "$D/controller-manager.kubeconfig" --bind-address "$NODE_IP" \
	--cert-dir "$D/pki/controller-manager" --use-service-account-credentials \
	--service-account-private-key-file "$D/pki/sa.key" --root-ca-file "$D/pki/ca.crt" \
	--leader-elect=false --flex-volume-plugin-dir "$D/flexvolume" --profiling=false
spawn kube-scheduler -- "$NODE/kube-scheduler" --kubeconfig "$D/scheduler.kubeconfig" \
	--bind-address "$NODE_IP" --leader-elect=false --profiling=false

# --- 7. containerd + runc ---------------------------------------------------------------------------
mkdir -p "$D/containerd" "$D/cni/net.d"
cat >"$D/cni/net.d/10-aicb.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "aicb",
  "plugins": [{
    "type": "bridge", "bridge": "$BRIDGE", "isGateway": false, "ipMasq": false, "hairpinMode": true,
    "ipam": {
      "type": "host-local", "dataDir": "$D/cni/ipam",
      "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "198.18.0.16", "rangeEnd": "198.18.0.250", "gateway": "$NODE_IP"}]],
      "routes": [{"dst": "$SERVICE_CIDR", "gw": "$NODE_IP"}]
    }
  }]
}
EOF
# restrict_oom_score_adj: nothing here may lower oom_score_adj (no CAP_SYS_RESOURCE), and CRI's
# -998 for the pause container makes runc fail; clamping to containerd's own value fixes it.
cat >"$D/containerd/config.toml" <<EOF
version = 2
root = "$D/containerd/root"
state = "$D/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$D/containerd/containerd.sock"
[ttrpc]
  address = "$D/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/aicb-pause:1"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "$NODE_IP"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$D/containerd/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$D/cni/net.d"
    max_conf_num = 1
EOF
CTR=(ctr --address "$D/containerd/containerd.sock" --namespace k8s.io)
spawn containerd TMPDIR="$D/tmp" -- containerd --config "$D/containerd/config.toml"
wait_for containerd 30 "${CTR[@]}" version

# The sandbox ("pause") image: static busybox sleeping until containerd kills the sandbox. A
# docker-archive made by hand (manifest, config, one layer), imported like any other image.
make_pause_archive() {
	local w="$D/tmp/pause"
	mkdir -p "$w/root/bin"
	cp "$(command -v busybox)" "$w/root/bin/busybox"
	tar -C "$w/root" --owner=0 --group=0 -cf "$w/layer.tar" bin
	local diff
	diff=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
	printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/busybox","sleep","2147483647"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$diff" >"$w/config.json"
	printf '[{"Config":"config.json","RepoTags":["localhost/aicb-pause:1"],"Layers":["layer.tar"]}]' >"$w/manifest.json"
	tar -C "$w" -cf "$D/tmp/pause.tar" manifest.json config.json layer.tar
}
make_pause_archive
"${CTR[@]}" images import "$D/tmp/pause.tar" >/dev/null || die "could not import the pause image"

# --- 8. kubelet -------------------------------------------------------------------------------------
mkdir -p "$D/kubelet"
echo "nameserver $NODE_IP" >"$D/kubelet/resolv.conf"
cat >"$D/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: $NODE_IP
healthzPort: 10248
# kubectl logs / exec go through the API server, which is the only client on this network.
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
# This machine has cgroup v1; newer kubelets move toward refusing it.
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
containerRuntimeEndpoint: unix://$D/containerd/containerd.sock
podLogsDir: $D/kubelet/pod-logs
volumePluginDir: $D/kubelet/volume-plugins
resolvConf: $D/kubelet/resolv.conf
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
# Imported images cannot be pulled again: never garbage-collect them, evict only when nearly full.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
serializeImagePulls: false
maxPods: 40
EOF
# AICB_CLUSTER_KUBELET_FLAGS: extra flags, word-split (the e2e suite's fault test passes a bad one).
# shellcheck disable=SC2086
spawn kubelet -- "$NODE/kubelet" --config "$D/kubelet/config.yaml" \
	--kubeconfig "$D/kubelet.kubeconfig" --root-dir "$D/kubelet/root" --cert-dir "$D/kubelet/pki" \
	--hostname-override "$NODE_NAME" --node-ip "$NODE_IP" ${AICB_CLUSTER_KUBELET_FLAGS:-}
node_ready() {
	[[ $("${KUBECTL[@]}" get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == True ]]
}
wait_for kubelet 90 node_ready

# --- 9. What makes the cluster usable: ServiceAccounts and the root CA, scheduling ----------------
usable() {
	"${KUBECTL[@]}" -n default get serviceaccount default &&
		"${KUBECTL[@]}" -n default get configmap kube-root-ca.crt
}
wait_for kube-controller-manager 60 usable
wait_for kube-scheduler 30 curl -skf --max-time 2 "https://$NODE_IP:10259/healthz"

# --- 10. kube-proxy (iptables) ----------------------------------------------------------------------
mkdir -p "$D/kube-proxy"
cat >"$D/kube-proxy/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $D/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
healthzBindAddress: $NODE_IP:10256
metricsBindAddress: $NODE_IP:10249
nodePortAddresses: [$NODE_IP/32]
# No NodePorts on 127.0.0.1 (that would set route_localnet); conntrack limits left as they are.
iptables: {localhostNodePorts: false, masqueradeAll: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
spawn kube-proxy -- "$NODE/kube-proxy" --config "$D/kube-proxy/config.yaml"
proxy_synced() {
	curl -sf --max-time 2 "http://$NODE_IP:10256/healthz" &&
		iptables -t nat -S KUBE-SERVICES | grep -q -- "-d $API_SERVICE_IP/32"
}
wait_for kube-proxy 30 proxy_synced

# --- 11. CoreDNS --------------------------------------------------------------------------------------
cat >"$D/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health $NODE_IP:8080
    ready $NODE_IP:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $D/coredns.kubeconfig aicb
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
    loadbalance
}
EOF
spawn coredns -- "$NODE/coredns" -conf "$D/Corefile"
wait_for coredns 30 curl -sf --max-time 2 "http://$NODE_IP:8181/ready"
# The whole path a pod's lookup takes: the kube-dns ClusterIP, kube-proxy's DNAT, CoreDNS.
resolves() {
	busybox nslookup kubernetes.default.svc.cluster.local "$DNS_SERVICE_IP" 2>&1 | grep -q "$API_SERVICE_IP"
}
wait_for coredns 20 resolves

printf 'KUBECONFIG=%s\nCONTAINERD_ADDRESS=%s\nNODE_IP=%s\nNODE_NAME=%s\n' \
	"$D/admin.kubeconfig" "$D/containerd/containerd.sock" "$NODE_IP" "$NODE_NAME" >"$D/cluster.env"
log "cluster up in $((SECONDS - T0))s: KUBECONFIG=$D/admin.kubeconfig"
printf '%s\n' "$D/admin.kubeconfig"

# Shared by cluster-up.sh and cluster-down.sh (sourced, not run): where the single-node
# cluster lives, its addresses, and what it changes on the host, so that down can put back
# exactly what up found.

# One cluster per machine: the kubelet and containerd use a few host paths that cannot be moved
# (see HOST_PATHS), so the state directory is fixed, and its existence means "a cluster is up,
# or a crashed one was not cleaned yet".
CLUSTER_DIR=${AICB_CLUSTER_DIR:-/var/tmp/aicb-cluster}

# Addresses: a bridge of our own holds the node IP; pods get 198.18.0.0/24 and Services
# 198.19.0.0/24 (RFC 2544 benchmark ranges, used by no real network here). Pods get a route to
# the pod and Service ranges only: nothing they send has a route off the machine, and nothing is
# masqueraded to the outside.
BRIDGE=aicb0
NODE_IP=198.18.0.1
POD_CIDR=198.18.0.0/24
SERVICE_CIDR=198.19.0.0/24
API_SERVICE_IP=198.19.0.1
DNS_SERVICE_IP=198.19.0.10
NODE_NAME=aicb-node
API_PORT=6443

# Kernel settings the cluster changes, restored by down: the kubelet sets the vm./kernel. ones
# at start; kube-proxy's Service routing between pods needs forwarding and bridged traffic
# through conntrack. kube-proxy is told to leave the conntrack limits alone; they are listed to
# prove it.
SYSCTLS=(
	vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
	kernel.keys.root_maxkeys kernel.keys.root_maxbytes
	net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
	net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
	net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
	net.netfilter.nf_conntrack_tcp_timeout_close_wait
)

# Host paths the kubelet, containerd and the CNI plugins create whatever their configuration
# says (device-plugin socket, /var/log/containers, shim sockets, CNI result cache) or might
# create; down removes each one that did not exist before up.
HOST_PATHS=(
	/var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /run/containerd
	/var/lib/containerd /opt/containerd /run/runc /var/run/netns /etc/cni /opt/cni
	/etc/kubernetes /usr/libexec/kubernetes
)

# Every cgroup hierarchy the kubelet creates kubepods in (cgroup v1, or v2 / hybrid).
cgroup_roots() {
	local d
	for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[[ -d ${d}kubepods ]] && printf '%s\n' "${d}kubepods"
	done
	return 0
}

# Mount points at or below $1 (deepest first), from /proc/self/mountinfo (octal escapes kept
# out: our paths have none).
mounts_under() {
	awk -v p="$1" '$5 == p || index($5, p "/") == 1 { print length($5), $5 }' /proc/self/mountinfo |
		sort -rn | cut -d' ' -f2-
}

# True while a process exists and is not a zombie (a zombie waits for PID 1 to reap it; it is
# dead for our purposes, and `kill -0` would still succeed on it).
is_live() {
	local state
	state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[[ -n $state && $state != Z ]]
}

# PIDs of our processes: those recorded at spawn whose command line still names the cluster
# directory (a recycled PID does not), and containerd's shims, which name its socket.
cluster_pids() {
	local f pid
	for f in "$CLUSTER_DIR"/pids/*; do
		[[ -f $f ]] || continue
		pid=$(<"$f")
		grep -qsaF "$CLUSTER_DIR/" "/proc/$pid/cmdline" && is_live "$pid" && printf '%s\n' "$pid"
	done
	grep -lsaF "$CLUSTER_DIR/containerd/containerd.sock" /proc/[0-9]*/cmdline 2>/dev/null |
		while read -r f; do
			pid=${f#/proc/}
			pid=${pid%/cmdline}
			grep -qsa containerd-shim "$f" && is_live "$pid" && printf '%s\n' "$pid"
		done
	return 0
}

# Shims of our containerd.
shim_pids() {
	cluster_pids | while read -r pid; do
		grep -qsa containerd-shim "/proc/$pid/cmdline" && printf '%s\n' "$pid"
	done
	return 0
}

# PIDs in the kubepods cgroups of every hierarchy (the pods' containers and sandboxes), live ones.
pod_pids() {
	local root pid
	for root in $(cgroup_roots); do
		find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -u | while read -r pid; do is_live "$pid" && printf '%s\n' "$pid"; done
	return 0
}

# A shim killed while runc froze a container's cgroup (to signal all its processes) leaves it
# frozen, and a frozen process cannot die: thaw every kubepods cgroup before killing.
thaw_pods() {
	local f
	for f in $(find /sys/fs/cgroup/freezer/kubepods -name freezer.state 2>/dev/null); do
		echo THAWED >"$f" 2>/dev/null
	done
	for f in $(find /sys/fs/cgroup/kubepods /sys/fs/cgroup/unified/kubepods -name cgroup.freeze 2>/dev/null); do
		echo 0 >"$f" 2>/dev/null
	done
	return 0
}

#!/usr/bin/env bash
# Take the single-node cluster of cluster-up.sh down and put the host back as up found it:
# containers and components stopped by PID, mounts unmounted, kubepods cgroups removed, the
# bridge and the pods' veths deleted, the nftables ruleset (iptables included) and kernel
# settings restored, host paths the components created removed. Works after a crashed or
# half-finished up too: each step undoes what exists and skips what does not.
#
#   sudo tools/kube-testenv/cluster-down.sh
#
# Ends by checking that nothing is left; prints what is and exits 1 if anything is (the state
# directory is then kept, so a second down can retry with the saved host state).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cluster-common.sh
source "$HERE/cluster-common.sh"
D=$CLUSTER_DIR
T0=$SECONDS

log() { printf 'cluster-down: [%3ss] %s\n' "$((SECONDS - T0))" "$*" >&2; }
[[ $(id -u) == 0 ]] || {
	log "must run as root"
	exit 1
}
if [[ ! -d $D ]]; then
	log "no cluster at $D: nothing to do"
	exit 0
fi

# Sends $1 to the PIDs on stdin; waits up to $2 seconds for all to exit.
signal_and_wait() {
	local sig=$1 timeout=$2 pids pid deadline=$((SECONDS + $2))
	pids=$(cat)
	[[ -z $pids ]] && return 0
	for pid in $pids; do kill "-$sig" "$pid" 2>/dev/null; done
	while ((SECONDS < deadline)); do
		local alive=0
		for pid in $pids; do is_live "$pid" && alive=1; done
		((alive == 0)) && return 0
		sleep 0.2
	done
	((timeout == 0)) && return 0
	return 1
}
stop_pids() { # pids on stdin: SIGTERM, then SIGKILL after 10 s
	local pids
	pids=$(cat)
	printf '%s\n' $pids | signal_and_wait TERM 10 || printf '%s\n' $pids | signal_and_wait KILL 5
}

# 1. The kubelet, so that it starts nothing more; then containerd, so that no CRI call still in
# flight starts a container behind our back. The shims keep running what they run.
pid_of() { [[ -f $D/pids/$1 ]] && cluster_pids | grep -qx "$(<"$D/pids/$1")" && cat "$D/pids/$1"; }
pid_of kubelet | stop_pids
pid_of containerd | stop_pids
# 2. Every container process (found in the kubepods cgroups) and every shim, by PID, until none
# is left: a shim may still finish a start that containerd asked for.
for _ in $(seq 20); do
	pids=$( (pod_pids; shim_pids) | sort -u)
	[[ -z $pids ]] && break
	thaw_pods
	printf '%s\n' $pids | signal_and_wait KILL 3
done
# 3. The other components.
for name in kube-proxy coredns kube-scheduler kube-controller-manager kube-apiserver etcd; do
	pid_of "$name" | stop_pids
done
cluster_pids | stop_pids
log "processes stopped"

# 4. Mounts: container root filesystems, /dev/shm of sandboxes, network namespaces, volumes.
for _ in 1 2 3 4 5; do
	mapfile -t mounts < <(mounts_under "$D")
	((${#mounts[@]} == 0)) && break
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done

log "unmounted"

# 5. kubepods cgroups, leaves first.
for _ in 1 2 3 4 5; do
	roots=$(cgroup_roots)
	[[ -z $roots ]] && break
	for root in $roots; do find "$root" -depth -type d -exec rmdir {} + 2>/dev/null; done
	sleep 0.2
done

log "cgroups removed"

# 6. Network: veths of pods go with their namespaces; the bridge (and the Service route) with us.
ip link del "$BRIDGE" 2>/dev/null
if [[ -f $D/host/links ]]; then
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		mapfile -t new_veths < <(ip -o link show type veth | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
			grep -vxF -f "$D/host/links" | grep '^veth')
		((${#new_veths[@]} == 0)) && break
		for v in "${new_veths[@]}"; do ip link del "$v" 2>/dev/null; done
		sleep 0.2
	done
fi

log "bridge and veths deleted"

# 7. Packet filter (kube-proxy's chains, our FORWARD rules) and kernel settings, as found.
if [[ -f $D/host/nft.ruleset ]]; then
	nft flush ruleset && nft -f "$D/host/nft.ruleset"
fi
if [[ -f $D/host/sysctl ]]; then
	while IFS= read -r line; do sysctl -qw "$line" >/dev/null 2>&1; done <"$D/host/sysctl"
fi

# 8. Host paths the components created.
if [[ -f $D/host/paths ]]; then
	for p in "${HOST_PATHS[@]}"; do
		grep -qxF "$p" "$D/host/paths" || rm -rf "$p"
	done
fi

# 9. Check: nothing of the cluster may be left.
problems=()
left=$(cluster_pids | tr '\n' ' ')
[[ -n $left ]] && problems+=("processes still running: $left")
left=$(pod_pids | tr '\n' ' ')
[[ -n $left ]] && problems+=("container processes still running: $left")
left=$(mounts_under "$D" | tr '\n' ' ')
[[ -n $left ]] && problems+=("mounts left: $left")
left=$(cgroup_roots | tr '\n' ' ')
[[ -n $left ]] && problems+=("cgroups left: $left")
ip link show "$BRIDGE" >/dev/null 2>&1 && problems+=("interface $BRIDGE left")
if [[ -f $D/host/links ]]; then
	left=$(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -vxF -f "$D/host/links" | tr '\n' ' ')
	[[ -n $left ]] && problems+=("interfaces left: $left")
fi
if [[ -f $D/host/nft.ruleset ]] && ! diff -q <(nft list ruleset) "$D/host/nft.ruleset" >/dev/null; then
	problems+=("nftables/iptables ruleset differs from before up")
fi
if [[ -f $D/host/sysctl ]]; then
	while IFS='=' read -r key value; do
		now=$(sysctl -n "$key" 2>/dev/null)
		[[ $now == "$value" ]] || problems+=("sysctl $key is '$now', was '$value'")
	done <"$D/host/sysctl"
fi
if [[ -f $D/host/paths ]]; then
	for p in "${HOST_PATHS[@]}"; do
		[[ -e $p ]] && ! grep -qxF "$p" "$D/host/paths" && problems+=("$p left")
	done
fi
if ((${#problems[@]} > 0)); then
	for p in "${problems[@]}"; do log "LEFT BEHIND: $p"; done
	log "kept $D (host state saved there) for another try"
	exit 1
fi
rm -rf "$D"
log "cluster down, host restored"

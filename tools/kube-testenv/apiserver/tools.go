//go:build tools

// Package tools records the commands this module builds so that
// "go mod tidy" keeps their requirements. It is never compiled.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"                     // etcd (package main)
	_ "k8s.io/kubernetes/cmd/kube-apiserver"          // kube-apiserver
	_ "k8s.io/kubernetes/cmd/kube-controller-manager" // the real node (test:e2e)
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)

//go:build tools

// Package tools records the commands this module builds so that
// "go mod tidy" keeps their requirements. It is never compiled.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"            // etcd (package main)
	_ "k8s.io/kubernetes/cmd/kube-apiserver" // kube-apiserver
)

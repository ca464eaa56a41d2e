//go:build tools

// Package tools records the command this module builds, so that
// `go mod tidy` keeps every package it needs in go.mod and go.sum.
package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"

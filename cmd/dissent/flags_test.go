package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagsOfEachCommand: a command lists and takes only the flags it
// uses (review 81: init, recovery restore and office grant took --addr and
// did nothing with it; ledger export took cosign's --key).
func TestFlagsOfEachCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"init", "--data", data, "--addr", "127.0.0.1:9"},
		{"recovery", "restore", "--data", data, "--addr", "127.0.0.1:9"},
		{"office", "grant", "--data", data, "--addr", "127.0.0.1:9"},
		{"ledger", "export", "--data", data, "--to", data, "--key", "x"},
		{"ledger", "cosign", "--data", data, "x"},
		{"verify", "--data", data, "x"},
	} {
		code, out := runCLI(t, "", args...)
		if code == 0 || !strings.Contains(out, "flag provided but not defined") {
			t.Errorf("dissent %s: exit %d, want the flag refused:\n%s", strings.Join(args, " "), code, out)
		}
	}
	if code, out := runCLI(t, "", "ledger", "cosign", "--help"); !strings.Contains(out, "-state") || strings.Contains(out, "-to ") || strings.Contains(out, "-data") {
		t.Errorf("ledger cosign --help (exit %d) should list cosign's flags only:\n%s", code, out)
	}
}

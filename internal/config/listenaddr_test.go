package config

import (
	"strings"
	"testing"
)

// TestListenAddr: config check refuses a server.addr the server could not
// listen on (review 81: "nonsense" passed, and serve then failed at once),
// and takes the forms OPERATIONS.md gives.
func TestListenAddr(t *testing.T) {
	for _, addr := range []string{"nonsense", "127.0.0.1", "127.0.0.1:99999", ":port-of-no-service"} {
		_, err := loadWith(t, "[server]\naddr = \""+addr+"\"\n")
		if err == nil || !strings.Contains(err.Error(), "server.addr") {
			t.Errorf("server.addr = %q: %v, want it refused", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", ":8080", "[::1]:8443", "0.0.0.0:0"} {
		if _, err := loadWith(t, "[server]\naddr = \""+addr+"\"\n"); err != nil {
			t.Errorf("server.addr = %q: %v", addr, err)
		}
	}
}

// TestUnknownProfileIsOneError: an unknown profile is said once, not
// followed by the calendar's complaint of the holidays it would have named.
func TestUnknownProfileIsOneError(t *testing.T) {
	_, err := loadWith(t, "[channel]\nprofile = \"state\"\n")
	if err == nil || strings.Contains(err.Error(), "holiday") {
		t.Errorf("profile = \"state\": %v, want one error naming the profile", err)
	}
}

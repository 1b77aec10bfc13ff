package config

// Each test here proves a review's finding (helper-38), fixed since; its
// comment says what went wrong before.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadWith(t *testing.T, toml string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(dir, func(string) string { return "" })
}

// TestCheckRefusesAnOriginThatCannotNameAKey: channel.origin is the ledger key's
// name and the first line of every checkpoint; a name with a space or a '+'
// cannot be either (ledger.GenerateKey and SignCheckpoint refuse it), yet
// Check passes it, so `config check` says "valid" and init then fails.
func TestCheckRefusesAnOriginThatCannotNameAKey(t *testing.T) {
	for _, origin := range []string{"Dissent Channel", "dissent+state.gov", ""} {
		_, err := loadWith(t, "[channel]\norigin = \""+origin+"\"\n")
		if origin == "" {
			continue // the default applies
		}
		if err == nil {
			t.Errorf("Check passes channel.origin %q, which no ledger key can be named and no checkpoint can carry", origin)
		}
	}
}

// TestCheckRefusesNegativeSessionSettings: a negative session_ttl,
// session_idle or failed_sign_ins_per_hour passes Check, and `config check`
// prints it as in force, while the service silently uses its defaults.
func TestCheckRefusesNegativeSessionSettings(t *testing.T) {
	c, err := loadWith(t, "[security]\nsession_ttl = \"-1h\"\nsession_idle = \"-5m\"\nfailed_sign_ins_per_hour = -3\n")
	if err == nil {
		t.Errorf("Check passes session_ttl %v, session_idle %v, failed_sign_ins_per_hour %d; `config check` prints %q, but the service uses 12h, 30m and 10",
			c.Security.SessionTTL, c.Security.SessionIdle, c.Security.SignInLimit, strings.Join(c.Summary()[10:11], ""))
	}
}

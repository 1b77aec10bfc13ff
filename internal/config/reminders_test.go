package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/config"
)

func load(t *testing.T, toml string) (*config.Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(dir, func(string) string { return "" })
}

func TestReminders(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		c, err := load(t, "")
		if err != nil {
			t.Fatal(err)
		}
		r := c.Reminders
		if *r.AcknowledgeLead != 1 || *r.ReplyLead != 5 || *r.ReplyLatestLead != 5 || len(r.EscalateTo) != 0 ||
			r.StaleDraft.Duration != 30*24*time.Hour || r.ScanEvery.Duration != 5*time.Minute || r.CheckpointEvery.Duration != time.Hour {
			t.Errorf("defaults: %+v", r)
		}
	})
	t.Run("set", func(t *testing.T) {
		c, err := load(t, `
[server]
base_url = "https://dissent.example.gov/"
[smtp]
host = "mail.example.gov"
from = "dissent@example.gov"
[reminders]
acknowledge_lead = 0
reply_lead = -1
escalate_to = ["director"]
stale_draft = "1440h"
scan_every = "1m"
`)
		if err != nil {
			t.Fatal(err)
		}
		r := c.Reminders
		if *r.AcknowledgeLead != 0 || *r.ReplyLead != -1 || *r.ReplyLatestLead != 5 || r.EscalateTo[0] != "director" || r.StaleDraft.Duration != 60*24*time.Hour {
			t.Errorf("set: %+v", r)
		}
		if s := strings.Join(c.Summary(), "\n"); !strings.Contains(s, "acknowledge 0, reply none, latest reply 5; escalate to director") {
			t.Errorf("summary:\n%s", s)
		}
	})
	for _, c := range []struct{ name, toml, want string }{
		{"a lead out of range", "[reminders]\nacknowledge_lead = 61", "acknowledge_lead"},
		{"a bad username", "[reminders]\nescalate_to = [\"Not A Name\"]", "escalate_to"},
		{"a short stale time", "[reminders]\nstale_draft = \"1h\"", "stale_draft"},
		{"e-mail without a base URL", "[smtp]\nhost = \"mail\"\nfrom = \"a@example.gov\"", "base_url"},
		{"e-mail without a sender", "[server]\nbase_url = \"https://x.example/\"\n[smtp]\nhost = \"mail\"", "smtp.from"},
		{"an unknown setting", "[reminders]\nescalate = [\"director\"]", "unknown setting"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := load(t, c.toml); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error about %s", err, c.want)
			}
		})
	}
}

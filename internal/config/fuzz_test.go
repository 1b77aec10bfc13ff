package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// configSeeds are dissent.toml files the package's tests load, valid and
// not.
var configSeeds = []string{
	"",
	"[channel]\norigin = \"Dissent Channel\"\n",
	"[channel]\norigin = \"dissent+state.gov\"\n",
	"[channel]\nreply = \"3 months\"\n",
	"[security]\nsession_ttl = \"-1h\"\nsession_idle = \"-5m\"\nfailed_sign_ins_per_hour = -3\n",
	"[security]\nargon_time = 1\nargon_memory_kib = 8\nargon_threads = 1\n",
	"[security]\nargon_time = 2\nargon_memory_kib = 19456\nargon_threads = 1\n",
	"[security]\nargon_time = 1\nargon_memory_kib = 64\nargon_threads = 1\nweak_passwords_for_tests = true\n",
	"[security]\nargon_memory_kib = 65536\nmax_concurrent_sign_ins = 4",
	"[server]\nmemory_limit_mib = 1024",
	"[server]\nmemory_limit_mib = -1",
	"[server]\nmemory_limit_mib = -2",
	"[server]\ntrusted_proxies = [\"10.0.0.5\", \"fd00::/8\"]\n[security]\nfailed_sign_ins_per_hour_per_address = -1\n",
	"[server]\ntrusted_proxies = [\"nonsense\"]\n[security]\nfailed_sign_ins_per_hour_per_address = -2\n",
	`
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
`,
	"[reminders]\nacknowledge_lead = 61",
	"[reminders]\nescalate_to = [\"Not A Name\"]",
	"[reminders]\nescalate = [\"director\"]",
	"[smtp]\nhost = \"mail\"\nfrom = \"a@example.gov\"",
	`[store]
driver = "postgres"
url = "postgres://dissent@localhost/dissent"
max_conns = 8
[channel]
profile = "state-2fam070"
origin = "dissent.example.gov"
time_zone = "Europe/Berlin"
markings = ["UNCLASSIFIED", "SBU"]
max_body = 65536
witnesses = []
[[channel.closures]]
from = "2026-12-24"
to = "2026-12-31"
name = "Winter closure"
[stats]
suppress_below = 3
`,
}

// FuzzLoad feeds the loader dissent.toml files: it never panics; a file it
// accepts describes a configuration whose own methods work, and which,
// written back out as TOML, loads again to the very same settings.
func FuzzLoad(f *testing.F) {
	for _, s := range configSeeds {
		f.Add(s)
	}
	dir := f.TempDir()
	noEnv := func(string) string { return "" }
	load := func(t *testing.T, text []byte) (*Config, error) {
		if err := os.WriteFile(filepath.Join(dir, FileName), text, 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(dir, noEnv)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := load(t, []byte(text))
		if err != nil && !strings.HasPrefix(err.Error(), "config: ") {
			t.Fatalf("an error that does not say where it comes from: %v", err)
		}
		// Load is Read, then Check of what Read gave, whose verdict it is.
		// (Only the verdicts are compared: when a file has two faults,
		// which one the TOML decoder reports first may vary from run to
		// run, as may the list of profiles an error names.)
		read, rerr := Read(dir, noEnv)
		if rerr != nil {
			if c != nil || err == nil {
				t.Fatalf("Read refuses (%v); Load gave %v, %v", rerr, c, err)
			}
			return
		}
		if c == nil || !reflect.DeepEqual(c, read) {
			t.Fatalf("Load gave %+v, Read %+v", c, read)
		}
		if cerr := read.Check(); (cerr == nil) != (err == nil) {
			t.Fatalf("Load: %v; Check of what Read gave: %v", err, cerr)
		}
		if err != nil {
			return
		}
		if _, err := c.Profile(); err != nil {
			t.Fatalf("accepted, but Profile: %v", err)
		}
		if _, err := c.Calendar(); err != nil {
			t.Fatalf("accepted, but Calendar: %v", err)
		}
		if len(c.Summary()) == 0 {
			t.Fatal("accepted, with an empty summary")
		}
		if c.Data != dir {
			t.Fatalf("Data = %q", c.Data)
		}
		var out bytes.Buffer
		if err := toml.NewEncoder(&out).Encode(c); err != nil {
			t.Fatalf("accepted, but does not encode: %v", err)
		}
		again, err := load(t, out.Bytes())
		if err != nil {
			t.Fatalf("accepted %q, written back as\n%s\nwhich is refused: %v", text, out.Bytes(), err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("accepted %q as\n%+v\nwritten back as\n%s\nwhich loads as\n%+v", text, *c, out.Bytes(), *again)
		}
	})
}

// FuzzDurationText feeds the durations of dissent.toml (session_ttl,
// stale_draft, …): one that parses writes itself back to the same value;
// one that does not leaves the setting as it was.
func FuzzDurationText(f *testing.F) {
	for _, s := range []string{"30m", "12h", "-1h", "-5m", "1440h", "1m", "1h0m0s", "0", "", "1.5h", "1h1h", "9223372036854775807ns", "2562048h", "2562047h47m16.854775807s", "1µs", "+3s", ".5s", "1e3s"} {
		f.Add([]byte(s))
	}
	const sentinel = 42 * time.Second
	f.Fuzz(func(t *testing.T, b []byte) {
		d := Duration{sentinel}
		if err := d.UnmarshalText(b); err != nil {
			if d.Duration != sentinel {
				t.Fatalf("UnmarshalText(%q) failed (%v), yet set %v", b, err, d.Duration)
			}
			return
		}
		if _, err := time.ParseDuration(string(b)); err != nil {
			t.Fatalf("UnmarshalText(%q) = %v, which time.ParseDuration refuses: %v", b, d.Duration, err)
		}
		text, err := d.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Fatalf("%q is %v, written %q, read back as %v, %v", b, d.Duration, text, back.Duration, err)
		}
	})
}

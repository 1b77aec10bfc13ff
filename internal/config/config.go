// Package config reads a deployment's configuration: one TOML file in the
// data folder (optional; every setting has a default) plus environment
// variables, which win. It only reads and checks; it starts nothing.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/clientip"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/notify"
	"github.com/dissent-channel/dissent/internal/vault"
	"github.com/dissent-channel/dissent/internal/workdays"
)

// FileName is the configuration file's name inside the data folder.
const FileName = "dissent.toml"

// Config is everything a deployment can set.
type Config struct {
	Data   string `toml:"-"`
	Server struct {
		Addr    string `toml:"addr"`
		BaseURL string `toml:"base_url"`
		// MemoryLimitMiB is the server's soft memory limit (Go's
		// GOMEMLIMIT): the collector works harder as the heap nears it.
		// Unset: 64 MiB plus twice what the sign-ins allowed at once may
		// hold (argon2id memory × max_concurrent_sign_ins); -1: none.
		MemoryLimitMiB int `toml:"memory_limit_mib"`
		// MetricsToken is the bearer token GET /metrics asks for; without
		// one the metrics are not served: their counts by route and time
		// would tell anyone who can reach the server when memos are
		// drafted, signed and submitted.
		MetricsToken string `toml:"metrics_token"`
		// TrustedProxies are the reverse proxies (addresses or networks)
		// whose X-Forwarded-For the server believes, to know the address
		// a request came from (internal/clientip).
		TrustedProxies []string `toml:"trusted_proxies"`
	} `toml:"server"`
	Store struct {
		Driver   string `toml:"driver"` // sqlite or postgres
		URL      string `toml:"url"`    // postgres:// URL
		MaxConns int    `toml:"max_conns"`
	} `toml:"store"`
	Channel struct {
		Profile     string             `toml:"profile"`
		Origin      string             `toml:"origin"`
		TimeZone    string             `toml:"time_zone"`
		Holidays    string             `toml:"holidays"`
		Closures    []workdays.Closure `toml:"closures"`
		Markings    []string           `toml:"markings"`
		MaxBody     int                `toml:"max_body"`
		Acknowledge string             `toml:"acknowledge"`
		Reply       string             `toml:"reply"`
		ReplyLatest string             `toml:"reply_latest"`
		// Appeal is how long after the reply its authors may appeal
		// (profiles with appeals only: longer than the profile's, never
		// shorter); AppealReply when the decision on appeal falls due.
		Appeal      string `toml:"appeal"`
		AppealReply string `toml:"appeal_reply"`
		LedgerKey   string `toml:"ledger_key_file"`
		// Witnesses are the verifier keys of the witnesses whose
		// cosignatures of checkpoints the service accepts and hands out
		// (docs/LEDGER.md, "Witnesses").
		Witnesses []string `toml:"witnesses"`
	} `toml:"channel"`
	Security struct {
		ArgonTime      uint32 `toml:"argon_time"`
		ArgonMemoryKiB uint32 `toml:"argon_memory_kib"`
		ArgonThreads   uint8  `toml:"argon_threads"`
		// WeakPasswordsForTests lets the argon2id costs go below the floor
		// (MinArgonMemoryKiB, MinArgonCost): for tests and benchmarks only,
		// and serve says so at start.
		WeakPasswordsForTests bool     `toml:"weak_passwords_for_tests"`
		MaxSignIns            int      `toml:"max_concurrent_sign_ins"`
		SessionTTL            Duration `toml:"session_ttl"`
		SessionIdle           Duration `toml:"session_idle"`
		SignInLimit           int      `toml:"failed_sign_ins_per_hour"`
		// SignInAddressLimit is failed sign-ins an hour per address from
		// devices new to the account; -1: no limit.
		SignInAddressLimit int `toml:"failed_sign_ins_per_hour_per_address"`
	} `toml:"security"`
	Stats struct {
		Suppress int `toml:"suppress_below"`
	} `toml:"stats"`
	SMTP struct {
		Host     string `toml:"host"`
		Port     int    `toml:"port"`
		Username string `toml:"username"`
		Password string `toml:"password"`
		From     string `toml:"from"`
		// TLS is "starttls" (the default), "tls" or "none" (tests only).
		TLS string `toml:"tls"`
	} `toml:"smtp"`
	// Reminders are the background jobs' rules (docs/OPERATIONS.md,
	// "Notifications"): they count in working days of the channel's
	// calendar, so they follow whichever profile is in force.
	Reminders struct {
		// Working days before each deadline that the office is reminded,
		// at the start of office hours; 0 is the morning of the deadline's
		// own day, -1 sends no reminder. Unset: 1, 5 and 5.
		AcknowledgeLead *int `toml:"acknowledge_lead"`
		ReplyLead       *int `toml:"reply_lead"`
		ReplyLatestLead *int `toml:"reply_latest_lead"`
		// EscalateTo names the users told when a deadline passes, such as
		// the Director of Policy Planning; the office is told too.
		EscalateTo []string `toml:"escalate_to"`
		// StaleDraft is how long a draft may lie untouched before its
		// drafters' bell flags it (default 30 days).
		StaleDraft Duration `toml:"stale_draft"`
		// ScanEvery is how often deadlines are checked (default 5m);
		// CheckpointEvery how often the ledger is checkpointed (1h).
		ScanEvery       Duration `toml:"scan_every"`
		CheckpointEvery Duration `toml:"checkpoint_every"`
	} `toml:"reminders"`
}

// Duration is a time.Duration written as "30m" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("config: duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MinMetricsToken is the shortest server.metrics_token accepted.
const MinMetricsToken = 16

// Load reads DIR/dissent.toml if it exists, applies defaults, then the
// environment (DISSENT_ADDR, DISSENT_STORE_URL, DISSENT_PROFILE,
// DISSENT_TIME_ZONE, DISSENT_SMTP_PASSWORD, DISSENT_BASE_URL,
// DISSENT_METRICS_TOKEN), and checks the result.
func Load(dir string, getenv func(string) string) (*Config, error) {
	c, err := Read(dir, getenv)
	if err != nil {
		return nil, err
	}
	return c, c.Check()
}

// Read is Load without Check: the settings as dir's dissent.toml,
// the defaults and getenv give them, which may not do to serve (restore
// reads a snapshot's, whose environment is not the restoring machine's).
func Read(dir string, getenv func(string) string) (*Config, error) {
	c := &Config{Data: dir}
	path := filepath.Join(dir, FileName)
	if b, err := os.ReadFile(path); err == nil {
		md, err := toml.Decode(string(b), c)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, fmt.Errorf("config: %s: unknown setting %q", path, und[0].String())
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.defaults()
	env := map[string]*string{
		"DISSENT_ADDR":          &c.Server.Addr,
		"DISSENT_STORE_URL":     &c.Store.URL,
		"DISSENT_PROFILE":       &c.Channel.Profile,
		"DISSENT_TIME_ZONE":     &c.Channel.TimeZone,
		"DISSENT_SMTP_PASSWORD": &c.SMTP.Password,
		"DISSENT_BASE_URL":      &c.Server.BaseURL,
		"DISSENT_METRICS_TOKEN": &c.Server.MetricsToken,
	}
	for k, p := range env {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	if c.Store.URL != "" && getenv("DISSENT_STORE_URL") != "" {
		c.Store.Driver = "postgres"
	}
	return c, nil
}

func (c *Config) defaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Server.Addr, "127.0.0.1:8080")
	def(&c.Store.Driver, "sqlite")
	def(&c.Channel.Profile, channel.DefaultProfile)
	def(&c.Channel.Origin, "dissent.local")
	def(&c.Channel.TimeZone, "America/New_York")
	def(&c.Channel.LedgerKey, "ledger.key")
	def(&c.SMTP.TLS, "starttls")
	if c.Channel.MaxBody == 0 {
		c.Channel.MaxBody = channel.DefaultMaxBody
	}
	p := vault.DefaultPasswordParams()
	if c.Security.ArgonTime == 0 {
		c.Security.ArgonTime = p.Time
	}
	if c.Security.ArgonMemoryKiB == 0 {
		c.Security.ArgonMemoryKiB = p.MemoryKiB
	}
	if c.Security.ArgonThreads == 0 {
		c.Security.ArgonThreads = p.Threads
	}
	if c.Security.MaxSignIns == 0 {
		c.Security.MaxSignIns = 8
	}
	if c.Server.MemoryLimitMiB == 0 {
		c.Server.MemoryLimitMiB = 64 + 2*int(c.Security.ArgonMemoryKiB/1024)*c.Security.MaxSignIns
	}
	if c.Security.SessionTTL.Duration == 0 {
		c.Security.SessionTTL.Duration = 12 * time.Hour
	}
	if c.Security.SessionIdle.Duration == 0 {
		c.Security.SessionIdle.Duration = 30 * time.Minute
	}
	if c.Security.SignInLimit == 0 {
		c.Security.SignInLimit = 10
	}
	if c.Security.SignInAddressLimit == 0 {
		c.Security.SignInAddressLimit = channel.DefaultSignInsPerAddress
	}
	if c.Stats.Suppress == 0 {
		c.Stats.Suppress = 5
	}
	if c.SMTP.Port == 0 {
		c.SMTP.Port = 587
	}
	for _, l := range []struct {
		p   **int
		def int
	}{{&c.Reminders.AcknowledgeLead, 1}, {&c.Reminders.ReplyLead, 5}, {&c.Reminders.ReplyLatestLead, 5}} {
		if *l.p == nil {
			v := l.def
			*l.p = &v
		}
	}
	if c.Reminders.StaleDraft.Duration == 0 {
		c.Reminders.StaleDraft.Duration = 30 * 24 * time.Hour
	}
	if c.Reminders.ScanEvery.Duration == 0 {
		c.Reminders.ScanEvery.Duration = 5 * time.Minute
	}
	if c.Reminders.CheckpointEvery.Duration == 0 {
		c.Reminders.CheckpointEvery.Duration = time.Hour
	}
}

// Check reports the first setting that cannot work.
func (c *Config) Check() error {
	var errs []error
	if c.Store.Driver != "sqlite" && c.Store.Driver != "postgres" {
		errs = append(errs, fmt.Errorf("store.driver %q: want sqlite or postgres", c.Store.Driver))
	}
	if c.Store.Driver == "postgres" && !strings.HasPrefix(c.Store.URL, "postgres://") && !strings.HasPrefix(c.Store.URL, "postgresql://") {
		errs = append(errs, errors.New("store.url: the postgres store needs a postgres:// URL"))
	}
	if !ledger.ValidOrigin(c.Channel.Origin) {
		errs = append(errs, fmt.Errorf("channel.origin %q: the ledger key's name and every checkpoint's first line: no spaces, '+' or control characters", c.Channel.Origin))
	}
	if c.Security.SessionTTL.Duration < 0 || c.Security.SessionIdle.Duration < 0 {
		errs = append(errs, errors.New("security.session_ttl and session_idle: want a positive duration, such as \"12h\" and \"30m\""))
	}
	if c.Security.SignInLimit < 0 {
		errs = append(errs, errors.New("security.failed_sign_ins_per_hour: want a positive number"))
	}
	if c.Security.SignInAddressLimit < -1 {
		errs = append(errs, errors.New("security.failed_sign_ins_per_hour_per_address: want a positive number, or -1 for no limit"))
	}
	if err := checkListenAddr(c.Server.Addr); err != nil {
		errs = append(errs, fmt.Errorf("server.addr %q: %w: want host:port, such as \"127.0.0.1:8080\" or \":8080\"", c.Server.Addr, err))
	}
	if _, err := clientip.ParsePrefixes(c.Server.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("server.trusted_proxies: %w", err))
	}
	p, perr := c.Profile()
	if perr != nil {
		errs = append(errs, perr)
	}
	// The calendar takes the profile's holidays: with no profile, its
	// error would only repeat the profile's.
	var cal *workdays.Calendar
	var err error
	if perr == nil {
		if cal, err = c.Calendar(); err != nil {
			errs = append(errs, err)
		}
	}
	if perr == nil && err == nil {
		days := submissionDays(cal, c.Channel.Closures, time.Now())
		if err := withinProfile(channel.Profiles[p.Name], p, cal, days); err != nil {
			errs = append(errs, err)
		}
		if err := deadlinesInOrder(p, cal, days); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Channel.MaxBody < 1024 || c.Channel.MaxBody > 16<<20 {
		errs = append(errs, fmt.Errorf("channel.max_body %d: want 1 KiB to 16 MiB", c.Channel.MaxBody))
	}
	if p := c.PasswordParams(); p.String() != "" {
		if _, err := vault.ParsePasswordParams(p.String()); err != nil {
			errs = append(errs, fmt.Errorf("security: argon2id parameters %s are out of range", p))
		} else if !c.Security.WeakPasswordsForTests && !StrongEnough(p) {
			errs = append(errs, fmt.Errorf("security: argon2id parameters %s are below the floor (at least %d KiB, and memory × passes at least %d KiB, as OWASP's list: 19 MiB × 2 passes, 46 MiB × 1): every password chosen under them, and the keys it seals, would be that much cheaper to guess from a copy of the database", p, MinArgonMemoryKiB, MinArgonCost))
		}
	}
	if err := ledger.CheckWitnessKeys(c.Channel.Origin, c.Channel.Witnesses); err != nil {
		errs = append(errs, fmt.Errorf("channel.witnesses: %w", err))
	}
	if t := c.Server.MetricsToken; t != "" && len(t) < MinMetricsToken {
		errs = append(errs, fmt.Errorf("server.metrics_token: want at least %d characters (e.g. openssl rand -hex 16), or none to serve no metrics", MinMetricsToken))
	}
	if m := c.Server.MemoryLimitMiB; m != -1 && m < 64 {
		errs = append(errs, fmt.Errorf("server.memory_limit_mib %d: want at least 64, or -1 for no limit", m))
	}
	if c.Security.MaxSignIns < 1 || c.Security.MaxSignIns > 256 {
		errs = append(errs, fmt.Errorf("security.max_concurrent_sign_ins %d: want 1 to 256", c.Security.MaxSignIns))
	}
	if c.Stats.Suppress < 1 {
		errs = append(errs, errors.New("stats.suppress_below must be at least 1"))
	}
	switch c.SMTP.TLS {
	case "starttls", "tls", "none":
	default:
		errs = append(errs, fmt.Errorf("smtp.tls %q: want starttls, tls or none", c.SMTP.TLS))
	}
	if c.SMTP.Host != "" && c.SMTP.From == "" {
		errs = append(errs, errors.New("smtp.from: name the sender address mail is sent from"))
	}
	if c.SMTP.Host != "" && !strings.HasPrefix(c.Server.BaseURL, "https://") && !strings.HasPrefix(c.Server.BaseURL, "http://") {
		errs = append(errs, errors.New("server.base_url: e-mail links need the address people sign in at, e.g. https://dissent.example.gov/"))
	}
	if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp.port %d: want 1 to 65535", c.SMTP.Port))
	} else if c.SMTP.Host != "" && c.SMTP.From != "" {
		// The mailer's own rules, so that what passes here is sent.
		if _, err := notify.NewMailer(c.Mail()); err != nil {
			errs = append(errs, fmt.Errorf("smtp: %w", err))
		}
	}
	errs = append(errs, c.checkReminders()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Mail is the mailer's configuration of [smtp].
func (c *Config) Mail() notify.Config {
	return notify.Config{Host: c.SMTP.Host, Port: c.SMTP.Port, Username: c.SMTP.Username,
		Password: c.SMTP.Password, From: c.SMTP.From, TLS: c.SMTP.TLS}
}

func (c *Config) checkReminders() []error {
	var errs []error
	r := &c.Reminders
	for _, l := range []struct {
		name string
		v    *int
	}{{"acknowledge_lead", r.AcknowledgeLead}, {"reply_lead", r.ReplyLead}, {"reply_latest_lead", r.ReplyLatestLead}} {
		if l.v != nil && (*l.v < -1 || *l.v > 60) {
			errs = append(errs, fmt.Errorf("reminders.%s %d: want -1 (none) to 60 working days", l.name, *l.v))
		}
	}
	for _, u := range r.EscalateTo {
		if err := channel.ValidateUsername("escalate_to", u); err != nil {
			errs = append(errs, fmt.Errorf("reminders.escalate_to: %q is not a username", u))
		}
	}
	if r.StaleDraft.Duration < 24*time.Hour {
		errs = append(errs, fmt.Errorf("reminders.stale_draft %v: want at least 24h", r.StaleDraft))
	}
	if r.ScanEvery.Duration < time.Second || r.ScanEvery.Duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("reminders.scan_every %v: want 1s to 24h", r.ScanEvery))
	}
	if r.CheckpointEvery.Duration < time.Minute {
		errs = append(errs, fmt.Errorf("reminders.checkpoint_every %v: want at least 1m", r.CheckpointEvery))
	}
	return errs
}

// Profile returns the policy profile with this deployment's overrides.
func (c *Config) Profile() (channel.Profile, error) {
	p, ok := channel.Profiles[c.Channel.Profile]
	if !ok {
		names := make([]string, 0, len(channel.Profiles))
		for n := range channel.Profiles {
			names = append(names, n)
		}
		return p, fmt.Errorf("channel.profile %q: want one of %s", c.Channel.Profile, strings.Join(names, ", "))
	}
	for _, o := range []struct {
		s    string
		rule *channel.Rule
	}{{c.Channel.Acknowledge, &p.Acknowledge}, {c.Channel.Reply, &p.Reply}, {c.Channel.ReplyLatest, &p.ReplyLatest},
		{c.Channel.Appeal, &p.Appeal}, {c.Channel.AppealReply, &p.AppealReply}} {
		if o.s == "" {
			continue
		}
		if (o.rule == &p.Appeal || o.rule == &p.AppealReply) && !p.Appeals() {
			return p, fmt.Errorf("channel.appeal and appeal_reply: the %s profile has no appeal", p.Name)
		}
		r, err := channel.ParseRule(o.s)
		if err != nil {
			return p, err
		}
		*o.rule = r
	}
	if len(c.Channel.Markings) > 0 {
		for _, m := range c.Channel.Markings {
			if err := channel.ValidateLine("markings", m, 64); err != nil {
				return p, fmt.Errorf("channel.markings: %q is not a marking", m)
			}
		}
		p.Markings = c.Channel.Markings
	}
	if c.Channel.Holidays != "" {
		p.Holidays = c.Channel.Holidays
	}
	return p, nil
}

// submissionDays are the moments of submission the deadline checks try:
// two a day (in office hours, and late at night, when a memo is received
// the next working day) through every year a closure can reach, the year
// of now and the next, and 2027. A closure is a run of days off in its own
// year, and a deadline in working days stretches over it: a year without
// it would not show that.
func submissionDays(cal *workdays.Calendar, closures []workdays.Closure, now time.Time) []time.Time {
	years := map[int]bool{2027: true, now.Year(): true, now.Year() + 1: true}
	for _, c := range closures {
		for y := c.From.Year - 1; y <= c.To.Year && y <= c.From.Year+2; y++ {
			years[y] = true // the deadlines of a submission late in a year reach into the next
		}
	}
	var days []time.Time
	for _, y := range slices.Sorted(maps.Keys(years)) {
		for d := time.Date(y, 1, 1, 0, 0, 0, 0, cal.Location()); d.Year() == y; d = d.AddDate(0, 0, 1) {
			days = append(days, d.Add(10*time.Hour), d.Add(23*time.Hour+30*time.Minute))
		}
	}
	return days
}

// withinProfile checks, for submissions on days (submissionDays), that the
// deployment's deadlines come no later than its profile's: those are the
// most the profile's rules allow (the EU Directive's 7 days and 3 months,
// the Foreign Affairs Manual's 60 working days at the latest, the NRC's
// 120 days), and the reminders and escalations follow the deadlines set,
// so a longer one would let a breach of the rules pass unflagged. A
// deployment may answer sooner.
func withinProfile(base, p channel.Profile, cal *workdays.Calendar, days []time.Time) error {
	for _, day := range days {
		b, d := base.Deadlines(cal, day), p.Deadlines(cal, day)
		for _, c := range []struct {
			setting string
			rule    channel.Rule
			got     time.Time
			most    time.Time
		}{
			{"acknowledge", p.Acknowledge, d.AcknowledgeBy, b.AcknowledgeBy},
			{"reply", p.Reply, d.ReplyBy, b.ReplyBy},
			{"reply_latest", p.ReplyLatest, d.ReplyLatest, b.ReplyLatest},
		} {
			if c.got.After(c.most) {
				return fmt.Errorf("channel.%s %q: for a memo submitted on %s it falls due %s, later than the %s profile allows (%s): a deployment may shorten its deadlines, not lengthen them",
					c.setting, c.rule, day.Format(time.DateOnly), c.got.Format(time.DateOnly), base.Name, c.most.Format(time.DateOnly))
			}
		}
		if base.Appeals() {
			if got, most := p.AppealReplyBy(cal, day), base.AppealReplyBy(cal, day); got.After(most) {
				return fmt.Errorf("channel.appeal_reply %q: for an appeal made on %s it falls due %s, later than the %s profile allows (%s): a deployment may shorten its deadlines, not lengthen them",
					p.AppealReply, day.Format(time.DateOnly), got.Format(time.DateOnly), base.Name, most.Format(time.DateOnly))
			}
			if got, least := p.AppealBy(cal, day), base.AppealBy(cal, day); got.Before(least) {
				return fmt.Errorf("channel.appeal %q: for a reply given on %s the authors could appeal until %s, sooner than the %s profile allows (%s): a deployment may give its authors longer to appeal, not shorter",
					p.Appeal, day.Format(time.DateOnly), got.Format(time.DateOnly), base.Name, least.Format(time.DateOnly))
			}
		}
	}
	return nil
}

// deadlinesInOrder checks, for submissions on days, that
// the acknowledgment falls due no later than the reply and the reply no
// later than the latest reply: a profile changed in one rule only (reply
// = "3 months" under the State profile's 60 working days at the latest)
// would otherwise show a latest reply before the reply, and the reminders
// would drop it.
func deadlinesInOrder(p channel.Profile, cal *workdays.Calendar, days []time.Time) error {
	for _, day := range days {
		d := p.Deadlines(cal, day)
		switch {
		case d.ReplyBy.Before(d.AcknowledgeBy):
			return fmt.Errorf("channel.reply %q falls due before channel.acknowledge %q (for a memo submitted on %s)", p.Reply, p.Acknowledge, day.Format(time.DateOnly))
		case d.ReplyLatest.Before(d.ReplyBy):
			return fmt.Errorf("channel.reply_latest %q falls due before channel.reply %q (for a memo submitted on %s): set reply_latest too", p.ReplyLatest, p.Reply, day.Format(time.DateOnly))
		}
	}
	return nil
}

// checkListenAddr refuses an address the server could not listen on for
// its form alone: a host and a port (a number, or a service's name).
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return err
	}
	return nil
}

// Calendar returns the office's working-day calendar.
func (c *Config) Calendar() (*workdays.Calendar, error) {
	loc, err := time.LoadLocation(c.Channel.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("channel.time_zone %q: %w", c.Channel.TimeZone, err)
	}
	p, ok := channel.Profiles[c.Channel.Profile]
	holidays := c.Channel.Holidays
	if holidays == "" && ok {
		holidays = p.Holidays
	}
	return workdays.New(workdays.Config{Location: loc, Holidays: holidays, Closures: c.Channel.Closures})
}

// The floor of argon2id costs for new passwords, from OWASP's list of
// equivalent settings (46 MiB × 1 pass, 19 MiB × 2, 12 MiB × 3, 9 MiB × 4,
// 7 MiB × 5): memory of at least MinArgonMemoryKiB, and memory × passes of
// at least MinArgonCost.
const (
	MinArgonMemoryKiB = 7 * 1024
	MinArgonCost      = 35 * 1024
)

// StrongEnough reports whether p is at or above the floor.
func StrongEnough(p vault.PasswordParams) bool {
	return p.MemoryKiB >= MinArgonMemoryKiB && uint64(p.MemoryKiB)*uint64(p.Time) >= MinArgonCost
}

// PasswordParams are the argon2id parameters for new password hashes.
func (c *Config) PasswordParams() vault.PasswordParams {
	return vault.PasswordParams{Time: c.Security.ArgonTime, MemoryKiB: c.Security.ArgonMemoryKiB, Threads: c.Security.ArgonThreads}
}

// LedgerKeyPath is where the ledger's signing key lives.
func (c *Config) LedgerKeyPath() string {
	if filepath.IsAbs(c.Channel.LedgerKey) {
		return c.Channel.LedgerKey
	}
	return filepath.Join(c.Data, c.Channel.LedgerKey)
}

// SQLitePath is the embedded database file.
func (c *Config) SQLitePath() string { return filepath.Join(c.Data, "dissent.db") }

func (c *Config) metrics() string {
	if c.Server.MetricsToken == "" {
		return "not served (no server.metrics_token)"
	}
	return "GET /metrics, to the bearer of server.metrics_token"
}

func (c *Config) weakPasswords() string {
	if StrongEnough(c.PasswordParams()) {
		return ""
	}
	return " (below the floor: security.weak_passwords_for_tests, for tests only)"
}

// signInLimits says how failed sign-ins are limited, and whose address
// counts.
func (c *Config) signInLimits() string {
	s := strconv.Itoa(c.Security.SignInLimit) + " per account"
	if c.Security.SignInAddressLimit < 0 {
		s += ", no limit per address"
	} else {
		s += ", " + strconv.Itoa(c.Security.SignInAddressLimit) + " per address from new devices"
	}
	if len(c.Server.TrustedProxies) == 0 {
		return s + " (each connection's peer; no trusted proxies)"
	}
	return s + " (as forwarded by the trusted proxies " + strings.Join(c.Server.TrustedProxies, ", ") + ")"
}

// Summary lists the settings as `dissent config check` prints them,
// without secrets.
func (c *Config) Summary() []string {
	out := []string{
		"data folder: " + c.Data,
		"address: " + c.Server.Addr,
		"memory limit: " + c.memoryLimit(),
		"metrics: " + c.metrics(),
		"store: " + c.Store.Driver,
		"profile: " + c.Channel.Profile,
		"time zone: " + c.Channel.TimeZone,
		"origin: " + c.Channel.Origin,
		"max memo body: " + strconv.Itoa(c.Channel.MaxBody) + " bytes",
		"argon2id: " + c.PasswordParams().String() + c.weakPasswords(),
		"session: " + c.Security.SessionTTL.String() + " absolute, " + c.Security.SessionIdle.String() + " idle",
		"figures: counts below " + strconv.Itoa(c.Stats.Suppress) + " suppressed",
		"failed sign-ins an hour: " + c.signInLimits(),
	}
	if c.SMTP.Host != "" {
		out = append(out, "smtp: "+c.SMTP.Host+":"+strconv.Itoa(c.SMTP.Port)+" ("+c.SMTP.TLS+")")
	} else {
		out = append(out, "smtp: not configured (in-app notifications only)")
	}
	r := c.Reminders
	lead := func(p *int) string {
		if p == nil || *p < 0 {
			return "none"
		}
		return strconv.Itoa(*p)
	}
	out = append(out, "reminders: working days ahead: acknowledge "+lead(r.AcknowledgeLead)+", reply "+lead(r.ReplyLead)+
		", latest reply "+lead(r.ReplyLatestLead)+"; escalate to "+orNone(strings.Join(r.EscalateTo, ", ")))
	return out
}

func orNone(s string) string {
	if s == "" {
		return "nobody (the office only)"
	}
	return s
}

func (c *Config) memoryLimit() string {
	if c.Server.MemoryLimitMiB < 0 {
		return "none"
	}
	return strconv.Itoa(c.Server.MemoryLimitMiB) + " MiB (soft)"
}

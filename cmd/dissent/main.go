// Command dissent runs and administers a Dissent deployment: a secure
// internal dissent channel. This file and its siblings parse flags and wire
// packages together; every rule lives in internal/service.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/jobs"
	"github.com/dissent-channel/dissent/internal/server"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/web"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"serve", "serve [--data DIR] [--addr HOST:PORT] [--debug-addr 127.0.0.1:PORT]", "serve the web pages and the JSON API", cmdServe},
		{"demo", "demo [--data DIR] [--addr HOST:PORT]", "set up a demo deployment (once) and serve it", cmdDemo},
		{"init", "init --data DIR --admin NAME [--password-stdin] [--custodians a,b,c --threshold K]", "create the data folder, keys and first administrator", cmdInit},
		{"migrate", "migrate [--data DIR]", "apply pending database migrations", cmdMigrate},
		{"keys", "keys anchor --trust-database [--data DIR]", "anchor in the ledger the public keys no entry anchors (once, after an upgrade that did not)", cmdKeys},
		{"user", "user add|list|disable|enable --as ADMIN [--data DIR] [--username NAME --display-name N --email E --roles R]", "manage accounts", cmdUser},
		{"calendar", "calendar --profile P --from RFC3339 [--tz ZONE] [--holidays YEAR] [--data DIR]", "print the deadlines of a memo submitted at a moment", cmdCalendar},
		{"config", "config check [--data DIR]", "check the configuration and print it", cmdConfig},
		{"recovery", "recovery restore --data DIR --user NAME SHARE-FILE...", "restore a user's keys with k custodians' shares", cmdRecovery},
		{"office", "office found|grant --data DIR --user NAME --fingerprint FP SHARE-FILE...", "found the channel office, or give its key to a member when none can, with k custodians' shares and the member", cmdOffice},
		{"verify", "verify --key ledger.pub [--user-id ID --nonce HEX] [--witness W.pub] BUNDLE.json|RECEIPT.json|PROOF.json|EXPORT-DIR", "verify an exported memo, receipt, ledger entry or ledger offline", cmdVerify},
		{"memo", "memo verify --key ledger.pub BUNDLE.json", "verify an exported memo's signatures and receipt offline", cmdMemo},
		{"ledger", "ledger export --to DIR | witness-key --name N | cosign --key K --log-key P --state LAST [--proof P.json] CHECKPOINT", "export the ledger; witness checkpoints", cmdLedger},
		{"backup", "backup --data DIR --to EMPTY-DIR", "take a consistent online snapshot of the embedded store", cmdBackup},
		{"restore", "restore --from SNAPSHOT --data EMPTY-DIR [--key PUB] [--checkpoint FILE] | restore --postgres URL --data DIR ...", "restore a snapshot and verify it against its checkpoint", cmdRestore},
		{"export", "export --data DIR --to postgres URL", "move an embedded deployment to PostgreSQL, verified by the ledger", cmdExport},
		{"bench", "bench [--seed N] [--clients N] [--duration D] [--store sqlite|postgres] [--json FILE] ...", "measure the figures of BENCHMARKS.md on this machine", cmdBench},
		{"stats", "stats --year YYYY --as NAME [--json|--csv] [--data DIR]", "print a year's figures (small counts suppressed)", cmdStats},
		{"version", "version", "print the version", func(context.Context, []string) error { fmt.Println("dissent", version); return nil }},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal asks the command to stop; a second one, if it
	// does not, ends the process as if none were caught.
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(os.Stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "dissent "+c.name+": "+message(err))
				return exitCode(err)
			}
			return 0
		}
	}
	fmt.Fprintf(os.Stderr, "dissent: unknown command %q\n\n", args[0])
	usage(os.Stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Dissent: a secure internal dissent channel.\n\nUsage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  dissent %s\n      %s\n", c.usage, c.summary)
	}
	fmt.Fprintln(w, "\nRun `dissent COMMAND --help` for a command's flags. DISSENT_DATA and DISSENT_ADDR stand in for --data and --addr.")
}

// message shows channel errors as they are and other errors in full: the CLI
// runs on the operator's own machine.
func message(err error) string {
	var ce *channel.Error
	if errors.As(err, &ce) {
		msg := ce.Message
		for _, f := range ce.Fields {
			if f.Message != ce.Message {
				msg += "\n  " + f.Field + ": " + f.Message
			}
		}
		return msg
	}
	return err.Error()
}

func exitCode(err error) int {
	switch channel.ErrorCode(err) {
	case channel.EINVALID, channel.EMALFORMED, channel.ETOOLARGE:
		return 2
	case channel.EUNAUTHORIZED, channel.EFORBIDDEN:
		return 3
	case channel.ENOTFOUND:
		return 4
	case channel.ECONFLICT:
		return 5
	}
	return 1
}

// flags makes a flag set with the shared --data and --addr flags.
func flags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("dissent "+name, flag.ContinueOnError)
	data := fs.String("data", envOr("DISSENT_DATA", "dissent-data"), "the data folder (env DISSENT_DATA)")
	return fs, data
}

// addrFlag adds --addr to the flags of a command that listens, or
// checks what it would listen on.
func addrFlag(fs *flag.FlagSet) *string {
	return fs.String("addr", os.Getenv("DISSENT_ADDR"), "the address to listen on, HOST:PORT (env DISSENT_ADDR; default from the config, 127.0.0.1:8080)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func loadConfig(data, addr string) (*config.Config, error) {
	cfg, err := config.Load(data, os.Getenv)
	if err != nil {
		return nil, err
	}
	if addr != "" {
		cfg.Server.Addr = addr
	}
	return cfg, nil
}

func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// app is an opened deployment.
type app struct {
	cfg   *config.Config
	store store.Store
	svc   *service.Service
	log   *slog.Logger
}

func openApp(ctx context.Context, data, addr string, migrate bool) (*app, error) {
	cfg, err := loadConfig(data, addr)
	if err != nil {
		return nil, err
	}
	key, err := server.ReadLedgerKey(cfg)
	if err != nil {
		return nil, err
	}
	if err := storeIsThere(cfg); err != nil {
		return nil, err
	}
	log := logger()
	anchor := false // this process applied the migration that starts key anchors
	st, err := server.OpenStoreMigrating(ctx, cfg, migrate, func(name string, took time.Duration) {
		log.Info("migration applied", "migration", name, "took", took.Round(time.Millisecond))
		anchor = anchor || name == server.KeyAnchorMigration
	})
	if err != nil {
		return nil, err
	}
	svc, err := server.NewService(cfg, st, key, log, anchor)
	if err == nil {
		if _, err = svc.LedgerPublicKey(ctx); errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("the store holds no deployment (no ledger key recorded in it), though %s was set up: is it the store this folder was set up with (store.url, DISSENT_STORE_URL)?", data)
		}
	}
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return &app{cfg: cfg, store: st, svc: svc, log: log}, nil
}

// storeIsThere refuses a data folder set up with `dissent init` (its
// ledger key exists) whose embedded database is not there: most likely
// the store is PostgreSQL, named by DISSENT_STORE_URL in the shell that set
// it up and not in this one, and a command would otherwise make a new,
// empty database and run on it.
func storeIsThere(cfg *config.Config) error {
	if cfg.Store.Driver != "sqlite" {
		return nil
	}
	if _, err := os.Stat(cfg.LedgerKeyPath()); err != nil {
		if _, err := os.Stat(cfg.SQLitePath()); errors.Is(err, os.ErrNotExist) {
			// Neither key nor database: a folder never set up (a typo in
			// --data, say), which no command but init should fill.
			return fmt.Errorf("%s is not set up: there is no deployment there to work on (run `dissent init --data %s` to set one up, or check --data)", cfg.Data, cfg.Data)
		}
		return nil
	}
	if _, err := os.Stat(cfg.SQLitePath()); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s was set up (its ledger key is at %s), but its embedded database %s is not there: if the store is PostgreSQL, set store.url or DISSENT_STORE_URL as when it was set up; otherwise restore the database (docs/OPERATIONS.md)", cfg.Data, cfg.LedgerKeyPath(), cfg.SQLitePath())
	}
	return nil
}

func (a *app) serve(ctx context.Context, ready func(url string)) error {
	defer a.store.Close()
	server.TuneMemory(a.cfg)
	// Background work: reminders, escalation, the e-mail outbox and
	// scheduled checkpoints. Stopped, and waited for, before the store closes.
	defer jobs.Start(ctx, a.svc, a.cfg, a.log)()
	h := server.Handler(a.svc, a.cfg, a.log, func(mux *http.ServeMux) {
		web.Register(mux, a.svc, web.Options{Log: a.log})
	})
	return server.Serve(ctx, a.cfg.Server.Addr, h, func(url string) {
		a.startupCheck(ctx)
		ready(url)
	})
}

func cmdServe(ctx context.Context, args []string) error {
	fs, data := flags("serve")
	addr := addrFlag(fs)
	debugAddr := fs.String("debug-addr", "", "serve Go's profiler (/debug/pprof/) on this loopback HOST:PORT; off by default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The pages parse on the other core while the store opens.
	web.Preload()
	a, err := openApp(ctx, *data, *addr, true)
	if err != nil {
		return err
	}
	if a.cfg.Security.WeakPasswordsForTests && !config.StrongEnough(a.cfg.PasswordParams()) {
		a.log.Warn("security.weak_passwords_for_tests is set: passwords chosen on this server, and the keys they seal, are cheap to guess from a copy of the database; for tests and benchmarks only", "argon2id", a.cfg.PasswordParams().String())
	}
	if *debugAddr != "" {
		if err := server.ServeDebug(ctx, *debugAddr, a.log); err != nil {
			a.store.Close()
			return err
		}
	}
	return a.serve(ctx, func(url string) { fmt.Println("Dissent is ready at " + url) })
}

func cmdMigrate(ctx context.Context, args []string) error {
	fs, data := flags("migrate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*data, "")
	if err != nil {
		return err
	}
	if err := storeIsThere(cfg); err != nil {
		return err
	}
	fmt.Println("Checking the database schema; a migration it lacks is applied in a transaction of its own…")
	applied, anchor := 0, false
	st, err := server.OpenStoreMigrating(ctx, cfg, true, func(name string, took time.Duration) {
		applied++
		anchor = anchor || name == server.KeyAnchorMigration
		fmt.Printf("  applied %s in %s\n", name, took.Round(time.Millisecond))
	})
	if err != nil {
		return err
	}
	if anchor {
		// The keys made before are anchored now, by the process that
		// applied the migration, as the database holds them.
		n, err := anchorKeys(ctx, cfg, st)
		if err != nil {
			_ = st.Close()
			return fmt.Errorf("%w; once that is mended, run `dissent keys anchor --trust-database`", err)
		}
		fmt.Printf("  anchored in the ledger the public keys made before keys were anchored (accounts, the office, the recovery key): %d\n", n)
	}
	switch applied {
	case 0:
		fmt.Println("Nothing to do: the database schema is up to date.")
	case 1:
		fmt.Println("Applied 1 migration: the database schema is up to date.")
	default:
		fmt.Printf("Applied %d migrations: the database schema is up to date.\n", applied)
	}
	return st.Close()
}

// openStore opens the deployment in data's store as it is, migrating
// nothing.
func openStore(ctx context.Context, data string) (*config.Config, store.Store, error) {
	cfg, err := loadConfig(data, "")
	if err != nil {
		return nil, nil, err
	}
	if err := storeIsThere(cfg); err != nil {
		return nil, nil, err
	}
	st, err := server.OpenStore(ctx, cfg, false)
	return cfg, st, err
}

// anchorKeys anchors, with the deployment's ledger key, the public keys no
// ledger entry anchors, and returns how many.
func anchorKeys(ctx context.Context, cfg *config.Config, st store.Store) (int, error) {
	key, err := server.ReadLedgerKey(cfg)
	if err != nil {
		return 0, err
	}
	svc, err := server.NewService(cfg, st, key, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return 0, err
	}
	return svc.AnchorKeys(ctx)
}

func cmdKeys(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "anchor" {
		return channel.Invalid("command", "usage: dissent keys anchor --trust-database [--data DIR]")
	}
	fs, data := flags("keys anchor")
	trust := fs.Bool("trust-database", false, "anchor the keys as the database holds them now: say so only for a database you trust")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return channel.Invalid("command", "unexpected %q: usage: dissent keys anchor --trust-database [--data DIR]", fs.Arg(0))
	}
	if !*trust {
		return channel.Invalid("trust-database", "this anchors in the ledger the public keys that no entry anchors, as the database holds them now, and from then on memo keys are wrapped to them; it is for keys made before December 2026 after an upgrade that did not anchor them. Check first that no one changed the database (restore a backup you trust if in doubt), then run it again with --trust-database")
	}
	cfg, st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := anchorKeys(ctx, cfg, st)
	if err != nil {
		return err
	}
	switch n {
	case 0:
		fmt.Println("Nothing to do: every public key is anchored in the ledger.")
	default:
		fmt.Printf("Anchored in the ledger the public keys no entry anchored (%d: accounts, and the office and recovery keys if they had none), and signed a checkpoint over them.\n", n)
		fmt.Println("Running nodes that found keys without anchors report ready again at their next readiness check.")
	}
	return nil
}

func cmdConfig(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return channel.Invalid("command", "usage: dissent config check [--data DIR]")
	}
	fs, data := flags("config check")
	addr := addrFlag(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*data, *addr)
	if err != nil {
		return err
	}
	for _, l := range cfg.Summary() {
		fmt.Println(l)
	}
	key, err := server.ReadLedgerKey(cfg)
	if err != nil {
		return err
	}
	if err := service.CheckOrigin(key, cfg.Channel.Origin); err != nil {
		return err
	}
	fmt.Println("The configuration is valid.")
	return nil
}

// readPassword reads a password: one line of stdin with --password-stdin,
// otherwise a prompt on the terminal without echo.
func readPassword(fromStdin bool, prompt string) (string, error) {
	if fromStdin || !term.IsTerminal(int(os.Stdin.Fd())) {
		line, err := stdinLine(channel.MaxPassword + 2)
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", channel.Invalid("password", "no password on standard input")
		}
		return line, nil
	}
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return string(b), err
}

// newPassword reads a password that is being chosen: from stdin as
// readPassword does, and on a terminal twice, since a typing mistake no one
// saw would lock its holder out (of keys, for the recovery ceremony's).
func newPassword(fromStdin bool, prompt string) (string, error) {
	pw, err := readPassword(fromStdin, prompt)
	if err != nil || fromStdin || !term.IsTerminal(int(os.Stdin.Fd())) {
		return pw, err
	}
	again, err := readPassword(false, "The same again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", channel.Invalid("password", "the two passwords typed differ; nothing was changed")
	}
	return pw, nil
}

// stdin reads standard input line by line, one reader for the whole
// command, so that two passwords on two lines (the administrator's, then a
// new account's) are both found: a reader of its own for each would take
// the second line with the first.
var stdin struct {
	f *os.File
	r *bufio.Reader
}

// stdinLine reads one line of standard input, of at most max bytes.
func stdinLine(max int) (string, error) {
	if stdin.f != os.Stdin {
		stdin.f, stdin.r = os.Stdin, bufio.NewReader(os.Stdin)
	}
	var b strings.Builder
	for b.Len() <= max {
		c, err := stdin.r.ReadByte()
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		} else if err != nil {
			return "", err
		}
		b.WriteByte(c)
		if c == '\n' {
			return b.String(), nil
		}
	}
	return "", channel.Invalid("password", "the line on standard input is longer than %d bytes", max)
}

// signIn signs the CLI in as a user, with the password from
// DISSENT_PASSWORD or a prompt.
func (a *app) signIn(ctx context.Context, username string) (*service.Actor, error) {
	if username == "" {
		return nil, channel.Invalid("as", "say who you are with --as USERNAME")
	}
	pw := os.Getenv("DISSENT_PASSWORD")
	if pw == "" {
		var err error
		if pw, err = readPassword(false, "Password for "+username+": "); err != nil {
			return nil, err
		}
	}
	tok, _, err := a.svc.SignIn(ctx, username, pw)
	if err != nil {
		return nil, err
	}
	return a.svc.Authenticate(ctx, tok)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
